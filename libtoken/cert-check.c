/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A certificate and its CA chain, parsed and checked as an import takes them. */
#include <errno.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509_vfy.h>

#include "cert-check.h"

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

int tk_certificate_check(const uint8_t *cert, size_t cert_len, const TkBlob *chain, size_t n_chain,
                         X509 **ret_leaf, STACK_OF(X509) * *ret_chain, TkError *error)
{
    X509 *leaf = NULL;
    STACK_OF(X509) *cas = NULL;

    if (n_chain > 16)
        return tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                            "A CA chain may have at most 16 certificates.");
    int r = parse_all(cert, cert_len, chain, n_chain, &leaf, &cas, error);
    if (r < 0)
        return r;
    r = verify_chain(leaf, cas, error);
    if (r < 0) {
        X509_free(leaf);
        sk_X509_pop_free(cas, X509_free);
        return r;
    }
    *ret_leaf = leaf;
    *ret_chain = cas;
    return 0;
}

bool tk_certificate_matches_key(X509 *x509, EVP_PKEY *pub)
{
    EVP_PKEY *want = X509_get0_pubkey(x509);
    return want && pub && EVP_PKEY_eq(pub, want) == 1;
}
