/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What an import checks of a certificate and its chain before the token is touched, and what
 * ListObjects says of a certificate, on certificates made here with OpenSSL. */
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cert-check.h"
#include "p11-objects.h"
#include "tk-test.h"

typedef struct Issued {
    EVP_PKEY *key;
    X509 *cert;
    unsigned char *der;
    int der_len;
} Issued;

static void issued_done(Issued *i)
{
    EVP_PKEY_free(i->key);
    X509_free(i->cert);
    OPENSSL_free(i->der);
}

/* A certificate for a new EC key, issued by issuer (self-signed when NULL), valid from
 * not_before (a UTCTime or GeneralizedTime string) to 2030; a CA's when ca. */
static Issued issue_cert(const char *cn, const Issued *issuer, const char *not_before, bool ca)
{
    Issued i = {.key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"), .cert = X509_new()};
    ck_assert_ptr_nonnull(i.key);
    ck_assert_ptr_nonnull(i.cert);
    X509_NAME *name = X509_get_subject_name(i.cert);
    ck_assert(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
                                         -1, 0));
    ck_assert(X509_set_issuer_name(i.cert, issuer ? X509_get_subject_name(issuer->cert) : name));
    ck_assert(ASN1_INTEGER_set(X509_get_serialNumber(i.cert), 0x1001));
    ck_assert(ASN1_TIME_set_string(X509_getm_notBefore(i.cert), not_before));
    ck_assert(ASN1_TIME_set_string(X509_getm_notAfter(i.cert), "20300101000000Z"));
    ck_assert(X509_set_pubkey(i.cert, i.key));
    ck_assert(X509_set_version(i.cert, X509_VERSION_3));
    if (ca) {
        BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
        ck_assert_ptr_nonnull(bc);
        bc->ca = 1;
        ck_assert_int_eq(X509_add1_ext_i2d(i.cert, NID_basic_constraints, bc, 1, 0), 1);
        BASIC_CONSTRAINTS_free(bc);
    }
    ck_assert(X509_sign(i.cert, issuer ? issuer->key : i.key, EVP_sha256()) > 0);
    i.der_len = i2d_X509(i.cert, &i.der);
    ck_assert_int_gt(i.der_len, 0);
    return i;
}

static Issued issue(const char *cn, const Issued *issuer, const char *not_before)
{
    return issue_cert(cn, issuer, not_before, false);
}

static Issued issue_ca(const char *cn, const Issued *issuer)
{
    return issue_cert(cn, issuer, "20200101000000Z", true);
}

static int check(const Issued *leaf, const Issued *const *chain, size_t n, TkError *e)
{
    TkBlob blobs[4];
    for (size_t i = 0; i < n; i++)
        blobs[i] = (TkBlob){chain[i]->der, (size_t)chain[i]->der_len};
    X509 *x = NULL;
    STACK_OF(X509) *cas = NULL;
    int r = tk_certificate_check(leaf->der, (size_t)leaf->der_len, blobs, n, &x, &cas, e);
    if (r == 0) {
        ck_assert_int_eq(X509_cmp(x, leaf->cert), 0);
        ck_assert_int_eq(sk_X509_num(cas), (int)n);
    } else {
        ck_assert_ptr_null(x);
        ck_assert_ptr_null(cas);
    }
    X509_free(x);
    sk_X509_pop_free(cas, X509_free);
    return r;
}

START_TEST(certificate_check_takes_the_chain_that_issues_it)
{
    Issued root = issue_ca("Root CA", NULL);
    Issued ca = issue_ca("Issuing CA", &root);
    Issued leaf = issue("Jane Doe", &ca, "20250101000000Z");
    const Issued *whole[] = {&ca, &root}, *issuing[] = {&ca};
    TkError e = {};
    ck_assert_int_eq(check(&leaf, whole, 2, &e), 0);
    ck_assert_int_eq(check(&leaf, issuing, 1, &e), 0);
    ck_assert_int_eq(check(&leaf, NULL, 0, &e), 0);
    issued_done(&leaf);
    issued_done(&ca);
    issued_done(&root);
}
END_TEST

START_TEST(certificate_check_refuses_a_chain_that_does_not_issue_it)
{
    Issued root = issue_ca("Root CA", NULL);
    Issued ca = issue_ca("Issuing CA", &root);
    Issued leaf = issue("Jane Doe", &ca, "20250101000000Z");
    const Issued *root_only[] = {&root};
    TkError e = {};
    ck_assert_int_eq(check(&leaf, root_only, 1, &e), -EBADMSG);
    ck_assert_str_eq(e.name, TK_ERROR_INVALID_CERTIFICATE);
    ck_assert_ptr_nonnull(strstr(e.message, "does not issue"));
    issued_done(&leaf);
    issued_done(&ca);
    issued_done(&root);
}
END_TEST

START_TEST(certificate_check_refuses_what_is_not_a_certificate)
{
    Issued leaf = issue("Jane Doe", NULL, "20250101000000Z");
    static const uint8_t junk[] = {0x30, 0x03, 0x02, 0x01, 0x01};
    const TkBlob chain[] = {{junk, sizeof(junk)}};
    X509 *x = NULL;
    STACK_OF(X509) *cas = NULL;
    TkError e = {};
    ck_assert_int_eq(tk_certificate_check(junk, sizeof(junk), NULL, 0, &x, &cas, &e), -EBADMSG);
    ck_assert_str_eq(e.name, TK_ERROR_INVALID_CERTIFICATE);
    e = (TkError){};
    ck_assert_int_eq(tk_certificate_check(leaf.der, (size_t)leaf.der_len, chain, 1, &x, &cas, &e),
                     -EBADMSG);
    ck_assert_ptr_nonnull(strstr(e.message, "Chain certificate 1"));
    /* Trailing bytes after the DER are not the certificate that was issued. */
    _cleanup_free_ uint8_t *longer = malloc((size_t)leaf.der_len + 1);
    ck_assert_ptr_nonnull(longer);
    memcpy(longer, leaf.der, (size_t)leaf.der_len);
    longer[leaf.der_len] = 0;
    ck_assert_int_eq(
        tk_certificate_check(longer, (size_t)leaf.der_len + 1, NULL, 0, &x, &cas, NULL), -EBADMSG);
    TkBlob many[17];
    for (size_t i = 0; i < ELEMENTSOF(many); i++)
        many[i] = (TkBlob){leaf.der, (size_t)leaf.der_len};
    ck_assert_int_eq(tk_certificate_check(leaf.der, (size_t)leaf.der_len, many, 17, &x, &cas, &e),
                     -EINVAL);
    ck_assert_ptr_null(x);
    issued_done(&leaf);
}
END_TEST

START_TEST(certificate_check_takes_pem)
{
    Issued leaf = issue("Jane Doe", NULL, "20250101000000Z");
    BIO *bio = BIO_new(BIO_s_mem());
    ck_assert_ptr_nonnull(bio);
    ck_assert(PEM_write_bio_X509(bio, leaf.cert));
    char *pem = NULL;
    long len = BIO_get_mem_data(bio, &pem);
    X509 *x = NULL;
    STACK_OF(X509) *cas = NULL;
    ck_assert_int_eq(
        tk_certificate_check((const uint8_t *)pem, (size_t)len, NULL, 0, &x, &cas, NULL), 0);
    ck_assert_int_eq(X509_cmp(x, leaf.cert), 0);
    X509_free(x);
    sk_X509_pop_free(cas, X509_free);
    BIO_free(bio);
    issued_done(&leaf);
}
END_TEST

START_TEST(certificate_matches_its_own_key_only)
{
    Issued a = issue("A", NULL, "20250101000000Z"), b = issue("B", NULL, "20250101000000Z");
    ck_assert(tk_certificate_matches_key(a.cert, a.key));
    ck_assert(!tk_certificate_matches_key(a.cert, b.key));
    ck_assert(!tk_certificate_matches_key(a.cert, NULL));
    issued_done(&a);
    issued_done(&b);
}
END_TEST

/* What ListObjects says of the certificate of a new key, valid from not_before to 2030; free
 * with tk_object_array_free(o, 1). */
static TkObject *describe(const char *cn, const char *not_before)
{
    Issued leaf = issue(cn, NULL, not_before);
    TkObject *o = calloc(1, sizeof(*o));
    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(tk_describe_certificate(leaf.cert, o), 0);
    issued_done(&leaf);
    return o;
}

START_TEST(certificate_description_has_its_names_serial_and_times)
{
    TkObject *o = describe("Jane Doe", "20250101000000Z");
    ck_assert_str_eq(o->subject, "CN=Jane Doe");
    ck_assert_str_eq(o->issuer, "CN=Jane Doe");
    ck_assert_str_eq(o->serial, "1001");
    ck_assert_uint_eq(o->not_before, 1735689600);
    ck_assert_uint_eq(o->not_after, 1893456000);
    ck_assert_int_eq(o->key_type, TK_KEY_TYPE_EC);
    ck_assert_str_eq(o->curve, "P-256");
    tk_object_array_free(o, 1);
}
END_TEST

START_TEST(certificate_time_before_the_epoch_is_zero)
{
    /* A UTCTime year from 50 up is 19xx; seconds since the epoch are unsigned on the bus, and
     * a wrapped count would put the start of validity in the far future. */
    TkObject *o = describe("Old", "500101000000Z");
    ck_assert_uint_eq(o->not_before, 0);
    ck_assert_uint_eq(o->not_after, 1893456000);
    tk_object_array_free(o, 1);
}
END_TEST

static Suite *certificate_suite(void)
{
    Suite *s = suite_create("certificate");
    TCase *tc = tcase_create("check");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, certificate_check_takes_the_chain_that_issues_it);
    tcase_add_test(tc, certificate_check_refuses_a_chain_that_does_not_issue_it);
    tcase_add_test(tc, certificate_check_refuses_what_is_not_a_certificate);
    tcase_add_test(tc, certificate_check_takes_pem);
    tcase_add_test(tc, certificate_matches_its_own_key_only);
    suite_add_tcase(s, tc);
    tc = tcase_create("describe");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, certificate_description_has_its_names_serial_and_times);
    tcase_add_test(tc, certificate_time_before_the_epoch_is_zero);
    suite_add_tcase(s, tc);
    return s;
}

TK_TEST_MAIN(certificate_suite())
