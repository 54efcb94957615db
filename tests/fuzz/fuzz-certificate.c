/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A certificate import as checked before the token is touched: tk_certificate_check() on the
 * certificate and its CA chain, tk_certificate_matches_key() against the public key of the
 * token's key, and tk_describe_certificate(), which ListObjects shows of every certificate a
 * token holds. The input is pieces (fuzz_piece()): the token key's public key as DER
 * SubjectPublicKeyInfo, the certificate (DER or PEM), then the chain, one piece each. */
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "cert-check.h"
#include "fuzz.h"
#include "p11-objects.h"
#include "text-escape.h"

/* One more than the import takes, so that the refusal is reached too. */
#define CHAIN_MAX 17

static void pkey_freep(EVP_PKEY **k)
{
    EVP_PKEY_free(*k);
}

static bool utf8(const char *s)
{
    return s && tk_utf8_is_valid(s, strlen(s));
}

/* What ListObjects says of a certificate is text for the bus and times a client can use. */
static void check_description(X509 *x509)
{
    TkObject *o = calloc(1, sizeof(*o));
    FUZZ_CHECK(o);
    FUZZ_CHECK(tk_describe_certificate(x509, o) == 0);
    FUZZ_CHECK(utf8(o->subject) && utf8(o->issuer));
    FUZZ_CHECK(o->serial && o->serial[0]);
    FUZZ_CHECK(o->not_before <= INT64_MAX && o->not_after <= INT64_MAX);
    FUZZ_CHECK(!o->curve || utf8(o->curve));
    tk_object_array_free(o, 1);
}

/* A key whose encoding is the certificate's own is the certificate's key. */
static bool same_encoding(EVP_PKEY *a, EVP_PKEY *b)
{
    unsigned char *da = NULL, *db = NULL;
    int la = i2d_PUBKEY(a, &da), lb = i2d_PUBKEY(b, &db);
    bool same = la > 0 && la == lb && memcmp(da, db, (size_t)la) == 0;
    OPENSSL_free(da);
    OPENSSL_free(db);
    return same;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FuzzInput in = {data, size};
    const uint8_t *key = NULL, *cert = NULL;
    size_t key_len = 0, cert_len = 0, n_chain = 0;
    TkBlob chain[CHAIN_MAX];
    (void)fuzz_piece(&in, &key, &key_len);
    (void)fuzz_piece(&in, &cert, &cert_len);
    while (n_chain < CHAIN_MAX && fuzz_piece(&in, &chain[n_chain].data, &chain[n_chain].len))
        n_chain++;

    X509 *leaf = NULL;
    STACK_OF(X509) *cas = NULL;
    TkError e = {};
    int r = tk_certificate_check(cert, cert_len, chain, n_chain, &leaf, &cas, &e);
    if (r < 0) {
        FUZZ_CHECK(!leaf && !cas);
        FUZZ_CHECK((r == -EBADMSG && streq(e.name, TK_ERROR_INVALID_CERTIFICATE)) ||
                   (r == -EINVAL && n_chain > 16));
        ERR_clear_error();
        return 0;
    }
    FUZZ_CHECK(leaf && cas && (size_t)sk_X509_num(cas) == n_chain);

    const unsigned char *p = key;
    _cleanup_(pkey_freep) EVP_PKEY *pub = key_len > 0 ? d2i_PUBKEY(NULL, &p, (long)key_len) : NULL;
    bool matches = tk_certificate_matches_key(leaf, pub);
    if (pub && X509_get0_pubkey(leaf) && same_encoding(pub, X509_get0_pubkey(leaf)))
        FUZZ_CHECK(matches);

    check_description(leaf);
    for (int i = 0; i < sk_X509_num(cas); i++)
        check_description(sk_X509_value(cas, i));

    X509_free(leaf);
    sk_X509_pop_free(cas, X509_free);
    ERR_clear_error();
    return 0;
}
