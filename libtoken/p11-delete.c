/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>

#include "p11-error.h"
#include "p11-internal.h"

/* libp11 0.4.12 keeps a removed object in its cached lists, so each list is read once and
 * every match in it removed. */
static int delete_keys_in(TkToken *t, bool private_key, const uint8_t *id, size_t id_len,
                          TkError *error)
{
    PKCS11_TOKEN *tok = t->slot->token;
    PKCS11_KEY *keys;
    unsigned n;
    int found = 0;
    int r = private_key ? PKCS11_enumerate_keys(tok, &keys, &n)
                        : PKCS11_enumerate_public_keys(tok, &keys, &n);
    if (r < 0)
        return tk_token_error_from_libp11(t, error, "list the keys");
    for (unsigned i = 0; i < n; i++) {
        if (!tk_id_equal(keys[i].id, keys[i].id_len, id, id_len))
            continue;
        if (PKCS11_remove_key(&keys[i]) < 0)
            return tk_token_error_from_libp11(
                t, error, private_key ? "delete the private key" : "delete the public key");
        found++;
    }
    return found;
}

static int delete_keys(TkToken *t, const uint8_t *id, size_t id_len, TkError *error)
{
    /* The private key first: a public key left alone is harmless, the reverse is not. */
    int priv = delete_keys_in(t, true, id, id_len, error);
    if (priv < 0)
        return priv;
    int pub = delete_keys_in(t, false, id, id_len, error);
    if (pub < 0)
        return pub;
    return priv + pub;
}

static int delete_certificates(TkToken *t, const uint8_t *id, size_t id_len, TkError *error)
{
    PKCS11_CERT *certs;
    unsigned n;
    int found = 0;

    if (PKCS11_enumerate_certs(t->slot->token, &certs, &n) < 0)
        return tk_token_error_from_libp11(t, error, "list the certificates");
    for (unsigned i = 0; i < n; i++) {
        if (!tk_id_equal(certs[i].id, certs[i].id_len, id, id_len))
            continue;
        if (PKCS11_remove_certificate(&certs[i]) < 0)
            return tk_token_error_from_libp11(t, error, "delete the certificate");
        found++;
    }
    return found;
}

int tk_token_delete_object(TkToken *t, const TkSecret *pin, TkObjectClass object_class,
                           const uint8_t *id, size_t id_len, TkError *error)
{
    if (!id || id_len == 0)
        return tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                            "No object id given: name the object to delete by its id.");
    if (object_class != TK_OBJECT_PRIVATE_KEY && object_class != TK_OBJECT_CERTIFICATE)
        return tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                            "Only a key (with its public half) or a certificate can be deleted.");

    int r = tk_token_login(t, TK_USER, pin, error);
    if (r < 0)
        return r;
    r = object_class == TK_OBJECT_CERTIFICATE ? delete_certificates(t, id, id_len, error)
                                              : delete_keys(t, id, id_len, error);
    tk_token_logout(t);
    (void)tk_p11_last_ckr();
    if (r == 0)
        return tk_error_set(error, -ENOENT, TK_ERROR_INVALID_ARGUMENT,
                            "The token has no %s with this id. List the token's objects to "
                            "find the id.",
                            object_class == TK_OBJECT_CERTIFICATE ? "certificate" : "key");
    return r < 0 ? r : 0;
}
