/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <libp11.h>
#include <p11-kit/pkcs11.h>

#include "token.h"

/* Shared by the p11-*.c files only. */

struct TkModule {
    char *path;
    char *manufacturer;
    PKCS11_CTX *ctx;
    PKCS11_SLOT *slots;
    unsigned n_slots;
    /* Bumped whenever the slot list is read again, which frees the old PKCS11_SLOTs. */
    unsigned generation;
    /* The same module instance as libp11's, for what libp11 0.4.12 cannot do (EC key
     * generation, min/max PIN length). Never C_Finalize'd from this side. */
    void *dl;
    CK_FUNCTION_LIST_PTR fl;
};

struct TkToken {
    TkModule *module;
    PKCS11_SLOT *slot; /* valid while generation matches the module's */
    unsigned generation;
    unsigned long slot_id;
    char *serial;
    /* Our own session that holds the login while a call runs; 0 when logged out. */
    CK_SESSION_HANDLE login_session;
    /* The start value of the PUK's counter, known once the card answered as a MyEID; kept
     * while the card cannot be asked for a moment (0: not known). */
    unsigned puk_start;
};

/* Reads the slot list afresh. libp11 0.4.12's PKCS11_update_slots() touches freed memory
 * when called on a list it returned, so the old list is released and enumerated again. */
int tk_module_refresh(TkModule *m, TkError *error);

/* The open token's slot: where it was if the token there still has its serial, else re-found
 * by serial after a refresh; -ENODEV with TokenRemoved when the token is gone. */
int tk_token_slot(TkToken *t, PKCS11_SLOT **ret_slot, TkError *error);

/* Logs in as user or SO with C_Login on a session of our own, not through libp11, which keeps
 * an unwiped copy of the PIN (and in 0.4.12 leaks it). Login state belongs to the token within
 * the process, so libp11's sessions are logged in too. On failure fills error from the module's
 * CKR code, with the tries left where the token says. */
int tk_token_login(TkToken *t, TkUserType who, const TkSecret *pin, TkError *error);
void tk_token_logout(TkToken *t);

/* tk_error_from_ckr() / tk_error_from_libp11() for a call on t: a generic failure on a token that
 * has left its slot is reported as TokenRemoved. */
int tk_token_error_from_ckr(TkToken *t, TkError *error, unsigned long rv, const char *what);
int tk_token_error_from_libp11(TkToken *t, TkError *error, const char *what);
/* The key's public half, from the public key object with its id (as libp11 finds it), read
 * with the module's functions rather than PKCS11_get_public_key(), which leaks in libp11 0.4.12.
 * NULL when the token has no such object or it cannot be read. */
EVP_PKEY *tk_token_public_key(TkToken *t, const PKCS11_KEY *key);
/* A session of our own on the token's slot, for raw PKCS#11 calls. */
int tk_token_open_session(TkToken *t, bool rw, CK_SESSION_HANDLE *ret, TkError *error);

/* A blank-padded PKCS#11 string field as a C string, escaped with tk_utf8_escape(): what a
 * token says is data, and above libtoken only valid UTF-8 goes. NULL when out of memory. */
char *tk_p11_string(const unsigned char *s, size_t len);
/* The same for a string libp11 copied out of such a field (a slot description, a serial, an
 * object's label); NULL is taken as "". */
char *tk_p11_libp11_string(const char *s);

/* Compares a key id with a buffer. */
static inline bool tk_id_equal(const unsigned char *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    return a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0);
}
