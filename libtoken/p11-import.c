/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cert-check.h"
#include "p11-error.h"
#include "p11-internal.h"
#include "p11-objects.h"

static PKCS11_KEY *find_matching_key(TkToken *t, X509 *x509)
{
    PKCS11_KEY *keys;
    unsigned n;

    if (!X509_get0_pubkey(x509) || PKCS11_enumerate_keys(t->slot->token, &keys, &n) < 0)
        return NULL;
    for (unsigned i = 0; i < n; i++) {
        EVP_PKEY *pub = tk_token_public_key(t, &keys[i]);
        bool eq = tk_certificate_matches_key(x509, pub);
        EVP_PKEY_free(pub);
        if (eq)
            return &keys[i];
    }
    return NULL;
}

static bool already_stored(PKCS11_CERT *certs, unsigned n, X509 *x509)
{
    for (unsigned i = 0; i < n; i++)
        if (certs[i].x509 && X509_cmp(certs[i].x509, x509) == 0)
            return true;
    return false;
}

/* A CA certificate goes under its subject key identifier, or a hash of its key, and is labelled
 * with its subject's common name. */
static int store_ca(TkToken *t, X509 *ca, PKCS11_CERT **ret, TkError *error)
{
    PKCS11_TOKEN *tok = t->slot->token;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned md_len = 0;
    const unsigned char *id;
    size_t id_len;
    char label[65] = "CA certificate";

    const ASN1_OCTET_STRING *skid = X509_get0_subject_key_id(ca);
    if (skid && ASN1_STRING_length(skid) > 0) {
        id = ASN1_STRING_get0_data(skid);
        id_len = (size_t)ASN1_STRING_length(skid);
    } else {
        if (X509_pubkey_digest(ca, EVP_sha1(), md, &md_len) != 1)
            return -ENOMEM;
        id = md;
        id_len = md_len;
    }
    X509_NAME_get_text_by_NID(X509_get_subject_name(ca), NID_commonName, label, sizeof(label));

    if (PKCS11_store_certificate(tok, ca, label, (unsigned char *)id, id_len, ret) < 0)
        return tk_token_error_from_libp11(t, error, "store a CA certificate on the token");
    return 0;
}

int tk_token_import_certificate(TkToken *t, const TkSecret *pin, const uint8_t *cert,
                                size_t cert_len, const TkBlob *chain, size_t n_chain,
                                uint8_t **ret_id, size_t *ret_id_len, TkError *error)
{
    X509 *leaf = NULL;
    STACK_OF(X509) *cas = NULL;
    PKCS11_CERT *stored[1 + 16] = {};
    size_t n_stored = 0;
    PKCS11_CERT *certs;
    unsigned n_certs;

    int r = tk_certificate_check(cert, cert_len, chain, n_chain, &leaf, &cas, error);
    if (r < 0)
        goto out;
    r = tk_token_login(t, TK_USER, pin, error);
    if (r < 0)
        goto out;
    PKCS11_TOKEN *tok = t->slot->token;

    PKCS11_KEY *key = find_matching_key(t, leaf);
    if (!key) {
        r = tk_error_set(error, -ENOKEY, TK_ERROR_NO_MATCHING_KEY,
                         "No private key on this token matches the certificate's public key. "
                         "Check that the certificate was issued for a request made on this "
                         "token.");
        goto logout;
    }
    if (PKCS11_enumerate_certs(tok, &certs, &n_certs) < 0) {
        r = tk_token_error_from_libp11(t, error, "list the certificates");
        goto logout;
    }
    if (already_stored(certs, n_certs, leaf)) {
        r = tk_error_set(error, -EEXIST, TK_ERROR_DUPLICATE,
                         "This certificate is already on the token. Nothing was changed.");
        goto logout;
    }

    uint8_t *id = malloc(key->id_len ? key->id_len : 1);
    if (!id) {
        r = -ENOMEM;
        goto logout;
    }
    memcpy(id, key->id, key->id_len);
    size_t id_len = key->id_len;

    if (PKCS11_store_certificate(tok, leaf, key->label, key->id, key->id_len, &stored[n_stored]) <
        0) {
        free(id);
        r = tk_token_error_from_libp11(t, error, "store the certificate on the token");
        goto logout;
    }
    n_stored++;

    for (int i = 0; i < sk_X509_num(cas); i++) {
        X509 *ca = sk_X509_value(cas, i);
        if (PKCS11_enumerate_certs(tok, &certs, &n_certs) == 0 &&
            already_stored(certs, n_certs, ca))
            continue;
        r = store_ca(t, ca, &stored[n_stored], error);
        if (r < 0) {
            /* Leave the token as it was: take back what this call stored. */
            for (size_t j = 0; j < n_stored; j++)
                if (stored[j])
                    PKCS11_remove_certificate(stored[j]);
            free(id);
            goto logout;
        }
        n_stored++;
    }

    *ret_id = id;
    *ret_id_len = id_len;
    r = 0;
logout:
    tk_token_logout(t);
out:
    (void)tk_p11_last_ckr();
    X509_free(leaf);
    sk_X509_pop_free(cas, X509_free);
    return r;
}
