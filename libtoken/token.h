/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "secret.h"
#include "token-error.h"

/* libtoken's PKCS#11 side: one loaded module, the tokens in its slots, and the operations the
 * daemon's workers run on one token. Every call that needs the user or SO PIN takes it as a
 * TkSecret, logs in, acts and logs out again, so no login state outlives a call. */

typedef enum TkPinState {
    TK_PIN_OK,
    TK_PIN_COUNT_LOW,
    TK_PIN_FINAL_TRY,
    TK_PIN_LOCKED,
    TK_PIN_TO_BE_CHANGED,
} TkPinState;

const char *tk_pin_state_to_string(TkPinState s);

/* Whether a PKCS#11 slot description names a PC/SC reader: OpenSC copies the reader's name into
 * the 64-byte slotDescription, padded with spaces (which libp11 drops), and a longer name cut to
 * 61 bytes and "..." (measured with OpenSC 0.23); a plain cut at 64 bytes is taken too. Both as
 * escaped where they entered libtoken. */
#define TK_SLOT_DESCRIPTION_MAX 64
bool tk_slot_names_reader(const char *slot_description, const char *reader);

/* Where a retry count came from, most trustworthy first. */
typedef enum TkRetriesSource {
    TK_RETRIES_CARD,
    TK_RETRIES_FLAGS,
    TK_RETRIES_LEDGER,
    TK_RETRIES_UNKNOWN,
} TkRetriesSource;

const char *tk_retries_source_to_string(TkRetriesSource s);

typedef enum TkUserType {
    TK_USER,
    TK_SO,
} TkUserType;

typedef enum TkKeySpec {
    TK_KEY_RSA2048,
    TK_KEY_RSA3072,
    TK_KEY_RSA4096,
    TK_KEY_EC_P256,
    TK_KEY_EC_P384,
    _TK_KEY_SPEC_MAX,
} TkKeySpec;

/* "rsa2048", …, "ec-p384"; -EINVAL for anything else. */
int tk_key_spec_from_string(const char *s, TkKeySpec *ret);
const char *tk_key_spec_to_string(TkKeySpec spec);

typedef struct TkTokenInfo {
    char *serial;
    char *label;
    char *manufacturer;
    char *model;
    char *slot_description; /* the PC/SC reader name for OpenSC */
    unsigned long slot_id;
    bool initialized;
    bool user_pin_initialized;
    bool protected_authentication_path;
    bool read_only;
    TkPinState user_pin_state;
    TkPinState so_pin_state;
    int user_pin_retries; /* -1: nothing says */
    int so_pin_retries;
    TkRetriesSource user_pin_retries_source;
    TkRetriesSource so_pin_retries_source;
    /* The PUK that unblocks the user PIN, where the token has one apart from its SO PIN
     * (OpenSC cards such as MyEID); the so_pin_* fields then describe the SO PIN itself. */
    bool has_puk;
    TkPinState puk_state;
    int puk_retries;
    TkRetriesSource puk_retries_source;
    unsigned min_pin_length;
    unsigned max_pin_length;
} TkTokenInfo;

void tk_token_info_done(TkTokenInfo *info);
void tk_token_info_array_free(TkTokenInfo *infos, size_t n);

typedef enum TkObjectClass {
    TK_OBJECT_PRIVATE_KEY,
    TK_OBJECT_PUBLIC_KEY,
    TK_OBJECT_CERTIFICATE,
} TkObjectClass;

const char *tk_object_class_to_string(TkObjectClass c); /* "private-key", "public-key", … */

typedef enum TkKeyType {
    TK_KEY_TYPE_NONE,
    TK_KEY_TYPE_RSA,
    TK_KEY_TYPE_EC,
} TkKeyType;

const char *tk_key_type_to_string(TkKeyType t); /* NULL, "rsa", "ec" */

typedef struct TkObject {
    TkObjectClass object_class;
    uint8_t *id;
    size_t id_len;
    char *label;
    TkKeyType key_type; /* keys, and the key inside a certificate */
    unsigned bits;      /* 0 where unknown */
    char *curve;        /* "P-256", "P-384"; NULL for RSA */
    /* Keys whose public half is on the token: it, as a DER SubjectPublicKeyInfo (NULL where
     * not). */
    uint8_t *public_key;
    size_t public_key_len;
    /* Certificates only: */
    char *subject; /* RFC 4514 */
    char *issuer;
    char *serial; /* hex */
    uint64_t not_before;
    uint64_t not_after;
    bool ca; /* a CA's certificate (basicConstraints CA, or a self-signed version 1 one) */
} TkObject;

void tk_object_array_free(TkObject *objects, size_t n);

/* A byte string, for certificate chains. */
typedef struct TkBlob {
    const uint8_t *data;
    size_t len;
} TkBlob;

typedef struct TkModule TkModule;
typedef struct TkToken TkToken;

/* Loads the PKCS#11 module at path (C_Initialize included). */
int tk_module_load(const char *path, TkModule **ret, TkError *error);
TkModule *tk_module_free(TkModule *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(TkModule *, tk_module_free)
const char *tk_module_path(const TkModule *m);
/* The module's manufacturer as C_GetInfo reports it ("OpenSC Project", "SoftHSM"). */
const char *tk_module_manufacturer(const TkModule *m);

/* Rescans the slots and returns every present token. */
int tk_module_list_tokens(TkModule *m, TkTokenInfo **ret, size_t *ret_n, TkError *error);

/* Finds a present token by serial number. -ENXIO / TokenNotFound when none matches. */
int tk_token_open(TkModule *m, const char *serial, TkToken **ret, TkError *error);
/* Opens the token in a slot by slot id: for a token that has no serial yet (an uninitialised
 * SoftHSM2 slot). */
int tk_token_open_slot(TkModule *m, unsigned long slot_id, TkToken **ret, TkError *error);
TkToken *tk_token_free(TkToken *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(TkToken *, tk_token_free)

/* Reads the token's info afresh from the module. */
int tk_token_get_info(TkToken *t, TkTokenInfo *ret, TkError *error);

/* Public objects only when pin is NULL; with a PIN, private keys too. */
int tk_token_list_objects(TkToken *t, const TkSecret *pin, TkObject **ret, size_t *ret_n,
                          TkError *error);

/* Generates a key pair on the token. id may be NULL: then 20 random bytes are used. label may
 * be NULL. Returns the id used and the public key as PEM (SubjectPublicKeyInfo). */
int tk_token_generate_key(TkToken *t, const TkSecret *pin, TkKeySpec spec, const char *label,
                          const uint8_t *id, size_t id_len, uint8_t **ret_id, size_t *ret_id_len,
                          char **ret_public_key_pem, TkError *error);

/* Creates a PKCS#10 request signed by the private key with this id. subject is an RFC 4514
 * string; emails and dns (NULL-terminated, may be NULL) become subjectAltNames. The request
 * is verified against the token's public key before it is returned as PEM. */
int tk_token_create_request(TkToken *t, const TkSecret *pin, const uint8_t *id, size_t id_len,
                            const char *subject, char *const *emails, char *const *dns,
                            char **ret_pem, TkError *error);

/* Stores a certificate (DER or PEM) under the id and label of the private key it matches;
 * -ENOKEY / NoMatchingKey when none does, -EEXIST / Duplicate when it is already there.
 * chain certificates are stored as separate objects (a chain certificate already present is
 * skipped). Nothing is written unless every input parsed. */
int tk_token_import_certificate(TkToken *t, const TkSecret *pin, const uint8_t *cert,
                                size_t cert_len, const TkBlob *chain, size_t n_chain,
                                uint8_t **ret_id, size_t *ret_id_len, TkError *error);

/* Checks a PIN by logging in with it and out again: a wrong one spends a try, as any use would. */
int tk_token_check_pin(TkToken *t, TkUserType who, const TkSecret *pin, TkError *error);

/* C_SetPIN while logged in as who. */
int tk_token_change_pin(TkToken *t, TkUserType who, const TkSecret *old_pin,
                        const TkSecret *new_pin, TkError *error);

/* Sets a new user PIN with the SO PIN: C_Login(SO) + C_InitPIN. The unblock on tokens whose
 * SO PIN resets the user PIN (SoftHSM2, many HSMs). */
int tk_token_init_pin(TkToken *t, const TkSecret *so_pin, const TkSecret *new_pin, TkError *error);

/* Unblocks the user PIN with its PUK: C_SetPIN(PUK, new) in a session that is not logged in,
 * which OpenSC turns into RESET RETRY COUNTER when configured with
 * user_pin_unblock_style = set_pin_in_unlogged_session. */
int tk_token_unblock_pin(TkToken *t, const TkSecret *puk, const TkSecret *new_pin, TkError *error);

/* Destroys everything on the token: C_InitToken with so_pin and label, then, when user_pin is
 * given, sets the user PIN with C_InitPIN. */
int tk_token_initialize(TkToken *t, const TkSecret *so_pin, const char *label,
                        const TkSecret *user_pin, TkError *error);

/* Deletes the private and public key with this id (TK_OBJECT_PRIVATE_KEY) or the certificate
 * with this id (TK_OBJECT_CERTIFICATE). -ENOENT / InvalidArgument when nothing has that id. */
int tk_token_delete_object(TkToken *t, const TkSecret *pin, TkObjectClass object_class,
                           const uint8_t *id, size_t id_len, TkError *error);
