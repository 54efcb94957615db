/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <openssl/bio.h>
#include <openssl/objects.h>

#include "dn.h"
#include "tk-test.h"

static void name_freep(X509_NAME **n)
{
    X509_NAME_free(*n);
}
#define _cleanup_name_ _cleanup_(name_freep)

/* Parses in and checks that formatting gives want back. */
static void assert_round_trip(const char *in, const char *want)
{
    _cleanup_name_ X509_NAME *n = NULL;
    TkError e = {};
    ck_assert_msg(tk_dn_parse(in, &n, &e) == 0, "parsing '%s' failed: %s", in, e.message);
    _cleanup_free_ char *out = tk_dn_format(n);
    ck_assert_ptr_nonnull(out);
    ck_assert_str_eq(out, want);
}

static void assert_refused(const char *in, const char *message_part)
{
    X509_NAME *n = NULL;
    TkError e = {};
    ck_assert_int_eq(tk_dn_parse(in, &n, &e), -EINVAL);
    ck_assert_ptr_null(n);
    ck_assert_str_eq(e.name, TK_ERROR_INVALID_ARGUMENT);
    ck_assert_msg(strstr(e.message, message_part), "message '%s' lacks '%s'", e.message,
                  message_part);
}

START_TEST(dn_round_trips_simple_name)
{
    assert_round_trip("CN=Jane Doe,OU=IT,O=Example Corp,L=Berlin,ST=Berlin,C=DE",
                      "CN=Jane Doe,OU=IT,O=Example Corp,L=Berlin,ST=Berlin,C=DE");
}
END_TEST

START_TEST(dn_order_is_reversed_in_x509_name)
{
    _cleanup_name_ X509_NAME *n = NULL;
    ck_assert_int_eq(tk_dn_parse("CN=leaf,O=Org,C=DE", &n, NULL), 0);
    ck_assert_int_eq(X509_NAME_entry_count(n), 3);
    ck_assert_int_eq(OBJ_obj2nid(X509_NAME_ENTRY_get_object(X509_NAME_get_entry(n, 0))),
                     NID_countryName);
    ck_assert_int_eq(OBJ_obj2nid(X509_NAME_ENTRY_get_object(X509_NAME_get_entry(n, 2))),
                     NID_commonName);
}
END_TEST

START_TEST(dn_handles_escaped_specials)
{
    assert_round_trip("CN=Doe\\, Jane,O=A\\+B\\;C", "CN=Doe\\, Jane,O=A\\+B\\;C");
    assert_round_trip("CN=say \\\"hi\\\" \\<x\\> a\\\\b", "CN=say \\\"hi\\\" \\<x\\> a\\\\b");
    assert_round_trip("CN=a\\=b\\#c", "CN=a=b#c");
}
END_TEST

START_TEST(dn_decodes_hex_pairs_as_utf8)
{
    assert_round_trip("CN=J\\C3\\BCrgen M\\C3\\BCller", "CN=J\xc3\xbcrgen M\xc3\xbcller");
    assert_round_trip("CN=J\xc3\xbcrgen", "CN=J\xc3\xbcrgen");

    /* Stored as UTF8String bytes: OpenSSL's own escaping form shows them as hex pairs. */
    _cleanup_name_ X509_NAME *n = NULL;
    ck_assert_int_eq(tk_dn_parse("CN=J\xc3\xbcrgen,O=Org", &n, NULL), 0);
    BIO *bio = BIO_new(BIO_s_mem());
    ck_assert_ptr_nonnull(bio);
    ck_assert_int_ge(X509_NAME_print_ex(bio, n, 0, XN_FLAG_RFC2253), 0);
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    ck_assert_int_eq(len, (long)strlen("CN=J\\C3\\BCrgen,O=Org"));
    ck_assert_int_eq(memcmp(data, "CN=J\\C3\\BCrgen,O=Org", len), 0);
    BIO_free(bio);
    X509_NAME_ENTRY *cn = X509_NAME_get_entry(n, 1);
    ck_assert_int_eq(ASN1_STRING_type(X509_NAME_ENTRY_get_data(cn)), V_ASN1_UTF8STRING);
}
END_TEST

START_TEST(dn_trims_unescaped_spaces_keeps_escaped)
{
    assert_round_trip("CN = Jane Doe , O = Example", "CN=Jane Doe,O=Example");
    assert_round_trip("CN=\\ padded\\ ", "CN=\\ padded\\ ");
}
END_TEST

START_TEST(dn_leading_hash_must_be_escaped)
{
    assert_round_trip("CN=\\#1", "CN=\\#1");
    assert_refused("CN=#0403616263", "'#' form");
}
END_TEST

START_TEST(dn_accepts_types_in_any_case_and_oids)
{
    assert_round_trip("cn=x,serialNumber=42,emailAddress=a@example.org,DC=example,DC=org,UID=jd",
                      "CN=x,serialNumber=42,emailAddress=a@example.org,DC=example,DC=org,UID=jd");
    assert_round_trip("2.5.4.3=by oid,o=lower", "CN=by oid,O=lower");
}
END_TEST

START_TEST(dn_multi_valued_rdn)
{
    _cleanup_name_ X509_NAME *n = NULL;
    ck_assert_int_eq(tk_dn_parse("CN=Jane+UID=jd,O=Example", &n, NULL), 0);
    ck_assert_int_eq(X509_NAME_entry_count(n), 3);
    /* Two RDNs: O alone, then CN and UID sharing one set. */
    int o = X509_NAME_ENTRY_set(X509_NAME_get_entry(n, 0));
    int a = X509_NAME_ENTRY_set(X509_NAME_get_entry(n, 1));
    int b = X509_NAME_ENTRY_set(X509_NAME_get_entry(n, 2));
    ck_assert_int_ne(o, a);
    ck_assert_int_eq(a, b);
    _cleanup_free_ char *out = tk_dn_format(n);
    ck_assert_str_eq(out, "CN=Jane+UID=jd,O=Example");
}
END_TEST

START_TEST(dn_refuses_unknown_type)
{
    assert_refused("XX=1,O=Example", "Unknown attribute type 'XX'");
}
END_TEST

START_TEST(dn_refuses_bad_country)
{
    assert_refused("CN=x,C=DEU", "two-letter");
    assert_refused("CN=x,C=1A", "two-letter");
}
END_TEST

START_TEST(dn_refuses_malformed_input)
{
    assert_refused("", "empty");
    assert_refused("CN=x,", "ends with a separator");
    assert_refused("CN", "Missing '='");
    assert_refused("=x", "Missing attribute type");
    assert_refused("CN=", "Empty value");
    assert_refused("CN=a\\q", "Bad escape");
    assert_refused("CN=a\\4", "Bad escape");
    assert_refused("CN=a;b", "must be escaped");
    assert_refused("CN=a\\00b", "NUL");
    assert_refused("CN=\\FF\\FE", "not acceptable");
}
END_TEST

START_TEST(dn_refuses_control_characters_raw_or_as_hex_pairs)
{
    assert_refused("CN=a\x07" "b,O=Example", "The value of 'CN' contains a control character");
    assert_refused("CN=x,O=Ex\x1b[31mample", "The value of 'O' contains a control character");
    assert_refused("CN=a\nb", "control character");
    assert_refused("CN=a\\07b", "The value of 'CN' contains a control character");
    assert_refused("CN=x,OU=a\\0Ab", "The value of 'OU' contains a control character");
    assert_refused("CN=a\\7Fb", "control character");
    assert_refused("CN=a\x7f", "control character");
    /* C1 controls: U+0085 (NEL) and U+009B (CSI), as UTF-8 and as hex pairs. */
    assert_refused("CN=a\xc2\x85", "control character");
    assert_refused("CN=a\\C2\\9B31m", "control character");
    /* Printable characters beside them still pass. */
    assert_round_trip("CN=J\\C3\\BCrgen \\E2\\82\\AC", "CN=J\xc3\xbcrgen \xe2\x82\xac");
}
END_TEST

/* A name as a certificate from a card may carry it: one CN of this type, these bytes as they are.
 */
static char *format_raw_cn(int type, const char *bytes, int len)
{
    _cleanup_name_ X509_NAME *n = X509_NAME_new();
    ck_assert_ptr_nonnull(n);
    ck_assert_int_eq(X509_NAME_add_entry_by_NID(n, NID_commonName, type,
                                                (const unsigned char *)bytes, len, -1, 0),
                     1);
    return tk_dn_format(n);
}

START_TEST(dn_format_writes_bytes_that_are_not_utf8_as_hex_pairs)
{
    static const struct {
        const char *bytes;
        int len;
        const char *want;
    } cases[] = {
        {"Jo\xe3o", 4, "CN=Jo\\E3o"},       {"J\xed\xa0\x80", 4, "CN=J\\ED\\A0\\80"},
        {"ab\xe4\xb8", 4, "CN=ab\\E4\\B8"}, {"Jo\xc3\xa3o", 5, "CN=Jo\xc3\xa3o"},
        {"a\\b\x1b", 4, "CN=a\\\\b\\1B"},
    };
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        _cleanup_free_ char *out = format_raw_cn(V_ASN1_UTF8STRING, cases[i].bytes, cases[i].len);
        ck_assert_ptr_nonnull(out);
        ck_assert_str_eq(out, cases[i].want);
    }
}
END_TEST

START_TEST(dn_format_dumps_values_without_a_utf8_form)
{
    /* A lone surrogate in a BMPString, U+110000 in a UniversalString. */
    _cleanup_free_ char *bmp = format_raw_cn(V_ASN1_BMPSTRING, "\x00J\xd8\x00\x00o", 6);
    _cleanup_free_ char *universal =
        format_raw_cn(V_ASN1_UNIVERSALSTRING, "\x00\x00\x00J\x00\x11\x00\x00", 8);
    ck_assert_ptr_nonnull(bmp);
    ck_assert_str_eq(bmp, "CN=#1E06004AD800006F");
    ck_assert_ptr_nonnull(universal);
    ck_assert_str_eq(universal, "CN=#1C080000004A00110000");
}
END_TEST

START_TEST(dn_format_of_null_is_null)
{
    ck_assert_ptr_null(tk_dn_format(NULL));
}
END_TEST

static Suite *dn_suite(void)
{
    Suite *s = suite_create("dn");
    TCase *tc = tcase_create("rfc4514");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, dn_round_trips_simple_name);
    tcase_add_test(tc, dn_order_is_reversed_in_x509_name);
    tcase_add_test(tc, dn_handles_escaped_specials);
    tcase_add_test(tc, dn_decodes_hex_pairs_as_utf8);
    tcase_add_test(tc, dn_trims_unescaped_spaces_keeps_escaped);
    tcase_add_test(tc, dn_leading_hash_must_be_escaped);
    tcase_add_test(tc, dn_accepts_types_in_any_case_and_oids);
    tcase_add_test(tc, dn_multi_valued_rdn);
    tcase_add_test(tc, dn_refuses_unknown_type);
    tcase_add_test(tc, dn_refuses_bad_country);
    tcase_add_test(tc, dn_refuses_malformed_input);
    tcase_add_test(tc, dn_refuses_control_characters_raw_or_as_hex_pairs);
    tcase_add_test(tc, dn_format_writes_bytes_that_are_not_utf8_as_hex_pairs);
    tcase_add_test(tc, dn_format_dumps_values_without_a_utf8_form);
    tcase_add_test(tc, dn_format_of_null_is_null);
    suite_add_tcase(s, tc);
    return s;
}

TK_TEST_MAIN(dn_suite())
