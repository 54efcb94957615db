/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "p11-error.h"
#include "p11-internal.h"
#include "p11-objects.h"

/* DER, or PEM when the bytes start like PEM. */
static X509 *parse_certificate(const uint8_t *data, size_t len)
{
    static const char pem_start[] = "-----BEGIN";
    const uint8_t *p = data;

    if (!data || len == 0 || len > 64 * 1024)
        return NULL;
    if (len >= sizeof(pem_start) - 1 && memmem(data, len, pem_start, sizeof(pem_start) - 1)) {
        BIO *bio = BIO_new_mem_buf(data, (int)len);
        X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
        BIO_free(bio);
        return x;
    }
    X509 *x = d2i_X509(NULL, &p, (long)len);
    if (x && p != data + len) {
        X509_free(x);
        return NULL;
    }
    return x;
}

static int parse_all(const uint8_t *cert, size_t cert_len, const TkBlob *chain, size_t n_chain,
                     X509 **ret_leaf, STACK_OF(X509) * *ret_chain, TkError *error)
{
    X509 *leaf = parse_certificate(cert, cert_len);
    if (!leaf)
        return tk_error_set(error, -EBADMSG, TK_ERROR_INVALID_CERTIFICATE,
                            "The certificate is neither DER nor PEM X.509. Check the file that "
                            "was issued.");
    STACK_OF(X509) *stack = sk_X509_new_null();
    if (!stack) {
        X509_free(leaf);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n_chain; i++) {
        X509 *x = parse_certificate(chain[i].data, chain[i].len);
        if (!x || sk_X509_push(stack, x) <= 0) {
            X509_free(x);
            X509_free(leaf);
            sk_X509_pop_free(stack, X509_free);
            return tk_error_set(error, -EBADMSG, TK_ERROR_INVALID_CERTIFICATE,
                                "Chain certificate %zu is neither DER nor PEM X.509. Check the "
                                "CA chain file.",
                                i + 1);
        }
    }
    *ret_leaf = leaf;
    *ret_chain = stack;
    return 0;
}

/* The chain must issue the leaf: a chain that does not belong would be stored uselessly and
 * mislead whoever relies on it. The chain certificates are taken as trust anchors here, since
 * the token holds an intermediate chain, not necessarily the root. */
static int verify_chain(X509 *leaf, STACK_OF(X509) * chain, TkError *error)
{
    if (sk_X509_num(chain) == 0)
        return 0;
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int r = -ENOMEM;
    if (!store || !ctx)
        goto out;
    for (int i = 0; i < sk_X509_num(chain); i++)
        if (X509_STORE_add_cert(store, sk_X509_value(chain, i)) != 1)
            goto out;
    if (X509_STORE_CTX_init(ctx, store, leaf, chain) != 1)
        goto out;
    X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_NO_CHECK_TIME);
    if (X509_verify_cert(ctx) == 1)
        r = 0;
    else
        r = tk_error_set(error, -EBADMSG, TK_ERROR_INVALID_CERTIFICATE,
                         "The CA chain does not issue this certificate (%s). Check that the "
                         "chain file belongs to the issued certificate.",
                         X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
out:
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return r;
}

static PKCS11_KEY *find_matching_key(PKCS11_TOKEN *tok, X509 *x509)
{
    PKCS11_KEY *keys;
    unsigned n;
    EVP_PKEY *want = X509_get0_pubkey(x509);

    if (!want || PKCS11_enumerate_keys(tok, &keys, &n) < 0)
        return NULL;
    for (unsigned i = 0; i < n; i++) {
        EVP_PKEY *pub = PKCS11_get_public_key(&keys[i]);
        int eq = pub ? EVP_PKEY_eq(pub, want) : 0;
        EVP_PKEY_free(pub);
        if (eq == 1)
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

    if (n_chain > 16)
        return tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                            "A CA chain may have at most 16 certificates.");
    int r = parse_all(cert, cert_len, chain, n_chain, &leaf, &cas, error);
    if (r < 0)
        return r;
    r = verify_chain(leaf, cas, error);
    if (r < 0)
        goto out;

    r = tk_token_login(t, TK_USER, pin, error);
    if (r < 0)
        goto out;
    PKCS11_TOKEN *tok = t->slot->token;

    PKCS11_KEY *key = find_matching_key(tok, leaf);
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
