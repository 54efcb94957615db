/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "openssl-util.h"
#include "p11-error.h"
#include "p11-internal.h"
#include "p11-objects.h"

#define DEFAULT_ID_LEN 20

static int generate_rsa(TkToken *t, unsigned bits, const char *label, const uint8_t *id,
                        size_t id_len, TkError *error)
{
    /* libp11 0.4.12 still exports RSA key generation under a deprecated name only. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    int r = PKCS11_generate_key(t->slot->token, EVP_PKEY_RSA, bits, (char *)label,
                                (unsigned char *)id, id_len);
#pragma GCC diagnostic pop
    if (r < 0)
        return tk_token_error_from_libp11(t, error, "generate the RSA key pair on the token");
    return 0;
}

/* The DER of the curve's OID, as CKA_EC_PARAMS wants it. */
static int ec_params_der(int nid, unsigned char **ret, int *ret_len)
{
    ASN1_OBJECT *obj = OBJ_nid2obj(nid);
    if (!obj)
        return -EINVAL;
    unsigned char *der = NULL;
    int len = i2d_ASN1_OBJECT(obj, &der);
    if (len <= 0)
        return -ENOMEM;
    *ret = der;
    *ret_len = len;
    return 0;
}

static int generate_ec(TkToken *t, int nid, const char *label, const uint8_t *id, size_t id_len,
                       TkError *error)
{
    CK_FUNCTION_LIST_PTR fl = t->module->fl;
    unsigned char *params = NULL;
    int params_len;
    CK_SESSION_HANDLE session;
    CK_OBJECT_HANDLE pub, priv;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_ULONG label_len = label ? strlen(label) : 0;

    int r = ec_params_der(nid, &params, &params_len);
    if (r < 0)
        return tk_error_set(error, r, TK_ERROR_FAILED, "Could not encode the curve's parameters.");

    CK_ATTRIBUTE pub_template[] = {
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_VERIFY, &yes, sizeof(yes)},
        {CKA_EC_PARAMS, params, (CK_ULONG)params_len},
        {CKA_ID, (void *)id, id_len},
        {CKA_LABEL, (void *)label, label_len},
    };
    CK_ATTRIBUTE priv_template[] = {
        {CKA_TOKEN, &yes, sizeof(yes)},     {CKA_PRIVATE, &yes, sizeof(yes)},
        {CKA_SENSITIVE, &yes, sizeof(yes)}, {CKA_EXTRACTABLE, &no, sizeof(no)},
        {CKA_SIGN, &yes, sizeof(yes)},      {CKA_DERIVE, &yes, sizeof(yes)},
        {CKA_ID, (void *)id, id_len},       {CKA_LABEL, (void *)label, label_len},
    };
    /* Leave out an empty label rather than hand the module a NULL pointer. */
    CK_ULONG n_pub = ELEMENTSOF(pub_template) - (label ? 0 : 1);
    CK_ULONG n_priv = ELEMENTSOF(priv_template) - (label ? 0 : 1);

    r = tk_token_open_session(t, true, &session, error);
    if (r >= 0) {
        CK_RV rv = fl->C_GenerateKeyPair(session, &mech, pub_template, n_pub, priv_template, n_priv,
                                         &pub, &priv);
        if (rv != CKR_OK)
            r = tk_token_error_from_ckr(t, error, rv, "generate the EC key pair on the token");
        fl->C_CloseSession(session);
    }
    OPENSSL_free(params);
    return r;
}

static int public_key_pem(TkToken *t, const uint8_t *id, size_t id_len, char **ret, TkError *error)
{
    PKCS11_KEY *key;
    /* Only the public key object gives the public key (tk_token_public_key()). */
    int r = tk_token_find_key(t, false, id, id_len, &key, error);
    if (r < 0)
        return r == -ENOENT ? tk_error_set(error, -EIO, TK_ERROR_FAILED,
                                           "The token made the key pair but it cannot be found "
                                           "afterwards. List the token's objects to check.")
                            : r;

    EVP_PKEY *pkey = tk_token_public_key(t, key);
    if (!pkey)
        return tk_token_error_from_libp11(t, error, "read the new public key");

    BIO *bio = BIO_new(BIO_s_mem());
    r = bio && PEM_write_bio_PUBKEY(bio, pkey) == 1 ? tk_bio_to_string(bio, ret) : -ENOMEM;
    BIO_free(bio);
    EVP_PKEY_free(pkey);
    return r;
}

int tk_token_generate_key(TkToken *t, const TkSecret *pin, TkKeySpec spec, const char *label,
                          const uint8_t *id, size_t id_len, uint8_t **ret_id, size_t *ret_id_len,
                          char **ret_public_key_pem, TkError *error)
{
    uint8_t random_id[DEFAULT_ID_LEN];
    PKCS11_KEY *existing;
    int r;

    if ((unsigned)spec >= _TK_KEY_SPEC_MAX)
        return tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                            "Unknown key type. Use rsa2048, rsa3072, rsa4096, ec-p256 or ec-p384.");
    if (label && strlen(label) > 64)
        return tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                            "A key label may have at most 64 characters.");
    if (id && (id_len == 0 || id_len > 64))
        return tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                            "A key id must have 1 to 64 bytes.");
    if (!id) {
        if (RAND_bytes(random_id, sizeof(random_id)) != 1)
            return tk_error_set(error, -EIO, TK_ERROR_FAILED, "Could not make a random key id.");
        id = random_id;
        id_len = sizeof(random_id);
    }

    r = tk_token_login(t, TK_USER, pin, error);
    if (r < 0)
        return r;

    /* Two keys under one id would make certificate import and CSR ambiguous. */
    if (tk_token_find_key(t, true, id, id_len, &existing, NULL) == 0) {
        r = tk_error_set(error, -EEXIST, TK_ERROR_DUPLICATE,
                         "The token already has a key with this id. Choose another id, or "
                         "delete the old key first.");
        goto out;
    }

    switch (spec) {
    case TK_KEY_RSA2048:
        r = generate_rsa(t, 2048, label, id, id_len, error);
        break;
    case TK_KEY_RSA3072:
        r = generate_rsa(t, 3072, label, id, id_len, error);
        break;
    case TK_KEY_RSA4096:
        r = generate_rsa(t, 4096, label, id, id_len, error);
        break;
    case TK_KEY_EC_P256:
        r = generate_ec(t, NID_X9_62_prime256v1, label, id, id_len, error);
        break;
    case TK_KEY_EC_P384:
        r = generate_ec(t, NID_secp384r1, label, id, id_len, error);
        break;
    default:
        r = -EINVAL;
    }
    if (r < 0)
        goto out;

    uint8_t *id_copy = malloc(id_len);
    char *pem = NULL;
    if (!id_copy) {
        r = -ENOMEM;
        goto out;
    }
    memcpy(id_copy, id, id_len);
    r = public_key_pem(t, id, id_len, &pem, error);
    if (r < 0) {
        free(id_copy);
        goto out;
    }
    *ret_id = id_copy;
    *ret_id_len = id_len;
    *ret_public_key_pem = pem;
out:
    tk_token_logout(t);
    return r;
}
