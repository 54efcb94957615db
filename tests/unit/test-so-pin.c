/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "so-pin.h"
#include "tk-test.h"

static const unsigned char site_key_bytes[20] = {
    0x0b, 0x00, 0x7f, 0x80, 0xff, 0x10, 0x22, 0x33, 0x44, 0x55,
    0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0x01,
};

static TkSecret *site_key(void)
{
    /* Built by hand: the key holds a NUL byte, which tk_secret_new() refuses. */
    TkSecret *s = calloc(1, sizeof(*s));
    ck_assert_ptr_nonnull(s);
    s->data = malloc(sizeof(site_key_bytes) + 1);
    ck_assert_ptr_nonnull(s->data);
    memcpy(s->data, site_key_bytes, sizeof(site_key_bytes));
    s->data[sizeof(site_key_bytes)] = 0;
    s->len = sizeof(site_key_bytes);
    return s;
}

/* The MAC of one block, computed with the one-shot EVP_Q_mac() rather than the EVP_MAC_CTX
 * calls of the code under test. */
static void reference_block(const char *serial, uint32_t counter, unsigned char out[32])
{
    unsigned char in[128];
    size_t n = strlen(serial);
    ck_assert_uint_lt(n + 5, sizeof(in));
    memcpy(in, serial, n);
    if (counter > 0) {
        in[n++] = 0;
        in[n++] = counter >> 24;
        in[n++] = counter >> 16;
        in[n++] = counter >> 8;
        in[n++] = counter;
    }
    size_t outl = 0;
    ck_assert_ptr_nonnull(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, site_key_bytes,
                                    sizeof(site_key_bytes), in, n, out, 32, &outl));
    ck_assert_uint_eq(outl, 32);
}

static void reference_pin(const char *serial, size_t digits, char *out)
{
    size_t n = 0;
    for (uint32_t counter = 0; n < digits; counter++) {
        unsigned char b[32];
        reference_block(serial, counter, b);
        for (size_t i = 0; i < 32 && n < digits; i++)
            if (b[i] < 250)
                out[n++] = '0' + b[i] % 10;
    }
    out[n] = 0;
}

/* The HMAC as the openssl command computes it, in hex. */
static void openssl_cli_hmac_hex(const char *serial, char out[65])
{
    char hexkey[2 * sizeof(site_key_bytes) + 1];
    for (size_t i = 0; i < sizeof(site_key_bytes); i++)
        snprintf(hexkey + 2 * i, 3, "%02x", site_key_bytes[i]);
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "printf '%%s' '%s' | openssl dgst -sha256 -mac HMAC -macopt hexkey:%s 2>/dev/null",
             serial, hexkey);
    FILE *f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    char line[256] = "";
    char *got = fgets(line, sizeof(line), f);
    int status = pclose(f);
    ck_assert_msg(got && status == 0, "openssl dgst failed");
    char *eq = strstr(line, "= ");
    ck_assert_ptr_nonnull(eq);
    ck_assert_int_ge(strlen(eq + 2), 64);
    memcpy(out, eq + 2, 64);
    out[64] = 0;
}

START_TEST(so_pin_reference_mac_matches_openssl_command)
{
    unsigned char b[32];
    char hex[65], cli[65];
    reference_block("0123456789ABCDEF", 0, b);
    for (size_t i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", b[i]);
    openssl_cli_hmac_hex("0123456789ABCDEF", cli);
    ck_assert_str_eq(hex, cli);
}
END_TEST

START_TEST(so_pin_known_answer)
{
    _cleanup_secret_ TkSecret *key = site_key(), *pin = NULL;
    char want[33];
    reference_pin("0123456789ABCDEF", 8, want);
    ck_assert_int_eq(tk_so_pin_derive(key, "0123456789ABCDEF", 8, &pin), 0);
    ck_assert_str_eq(pin->data, want);
}
END_TEST

START_TEST(so_pin_uses_counter_blocks_when_bytes_are_rejected)
{
    /* Find a serial whose first MAC has a byte >= 250, so 32 digits need the second block. */
    char serial[32];
    bool found = false;
    for (unsigned i = 0; i < 1000 && !found; i++) {
        unsigned char b[32];
        snprintf(serial, sizeof(serial), "SER%04u", i);
        reference_block(serial, 0, b);
        for (size_t j = 0; j < 32; j++)
            found = found || b[j] >= 250;
    }
    ck_assert(found);
    _cleanup_secret_ TkSecret *key = site_key(), *pin = NULL;
    char want[33];
    reference_pin(serial, 32, want);
    ck_assert_int_eq(tk_so_pin_derive(key, serial, 32, &pin), 0);
    ck_assert_str_eq(pin->data, want);
}
END_TEST

START_TEST(so_pin_is_derived_from_the_serials_own_bytes)
{
    /* libtoken reports a serial holding a backslash as a\\b (two backslashes) and Latin-1 bytes
     * as Jo\xe3o: the PIN is the one the raw serial gives, as before escaping existed and in
     * any other tool. */
    static const struct {
        const char *escaped;
        const char *raw;
    } cases[] = {
        {"a\\\\b", "a\\b"},
        {"Jo\\xe3o", "Jo\xe3o"},
        {"0123456789ABCDEF", "0123456789ABCDEF"},
    };
    _cleanup_secret_ TkSecret *key = site_key();
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        _cleanup_secret_ TkSecret *pin = NULL;
        char want[33];
        reference_pin(cases[i].raw, 12, want);
        ck_assert_int_eq(tk_so_pin_derive(key, cases[i].escaped, 12, &pin), 0);
        ck_assert_str_eq(pin->data, want);
    }
}
END_TEST

START_TEST(so_pin_refuses_serials_libtoken_never_reports)
{
    _cleanup_secret_ TkSecret *key = site_key();
    TkSecret *pin = NULL;
    /* A lone backslash is no escape, and a NUL would blur where a serial ends. */
    ck_assert_int_eq(tk_so_pin_derive(key, "a\\b", 8, &pin), -EINVAL);
    ck_assert_int_eq(tk_so_pin_derive(key, "a\\x00b", 8, &pin), -EINVAL);
    ck_assert_ptr_null(pin);
}
END_TEST

START_TEST(so_pin_honours_length_and_is_digits_only)
{
    _cleanup_secret_ TkSecret *key = site_key();
    for (size_t d = TK_SO_PIN_DIGITS_MIN; d <= TK_SO_PIN_DIGITS_MAX; d++) {
        _cleanup_secret_ TkSecret *pin = NULL;
        ck_assert_int_eq(tk_so_pin_derive(key, "TOKEN-42", d, &pin), 0);
        ck_assert_uint_eq(pin->len, d);
        ck_assert_uint_eq(strspn(pin->data, "0123456789"), d);
    }
}
END_TEST

START_TEST(so_pin_differs_between_serials)
{
    _cleanup_secret_ TkSecret *key = site_key(), *a = NULL, *b = NULL, *a2 = NULL;
    ck_assert_int_eq(tk_so_pin_derive(key, "TOKEN-1", 16, &a), 0);
    ck_assert_int_eq(tk_so_pin_derive(key, "TOKEN-2", 16, &b), 0);
    ck_assert_int_eq(tk_so_pin_derive(key, "TOKEN-1", 16, &a2), 0);
    ck_assert(!tk_secret_equal(a, b));
    ck_assert(tk_secret_equal(a, a2));
}
END_TEST

START_TEST(so_pin_refuses_bad_arguments)
{
    _cleanup_secret_ TkSecret *key = site_key();
    TkSecret *pin = NULL;
    ck_assert_int_eq(tk_so_pin_derive(key, "S", 3, &pin), -EINVAL);
    ck_assert_int_eq(tk_so_pin_derive(key, "S", 33, &pin), -EINVAL);
    ck_assert_int_eq(tk_so_pin_derive(key, "", 8, &pin), -EINVAL);
    ck_assert_int_eq(tk_so_pin_derive(NULL, "S", 8, &pin), -EINVAL);
    ck_assert_ptr_null(pin);
}
END_TEST

static char tmpdir[64];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/tk-so-pin-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

static void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
    ck_assert_int_eq(fchmod(fd, mode), 0);
    close(fd);
}

START_TEST(site_key_loads_raw_bytes)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/key", tmpdir);
    write_file(path, site_key_bytes, sizeof(site_key_bytes), 0600);
    _cleanup_secret_ TkSecret *key = NULL, *want = site_key();
    TkError e = {};
    ck_assert_int_eq(tk_site_key_load(path, &key, &e), 0);
    ck_assert_uint_eq(key->len, sizeof(site_key_bytes));
    ck_assert(tk_secret_equal(key, want));
}
END_TEST

START_TEST(site_key_refuses_group_readable_file)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/key", tmpdir);
    write_file(path, site_key_bytes, sizeof(site_key_bytes), 0640);
    TkSecret *key = NULL;
    TkError e = {};
    ck_assert_int_eq(tk_site_key_load(path, &key, &e), -EPERM);
    ck_assert_ptr_null(key);
    ck_assert_ptr_nonnull(strstr(e.message, path));
    ck_assert_ptr_nonnull(strstr(e.message, "0640"));
}
END_TEST

START_TEST(site_key_refuses_short_key)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/key", tmpdir);
    write_file(path, site_key_bytes, 15, 0400);
    TkSecret *key = NULL;
    TkError e = {};
    ck_assert_int_eq(tk_site_key_load(path, &key, &e), -EINVAL);
    ck_assert_ptr_null(key);
    ck_assert_ptr_nonnull(strstr(e.message, "at least 16"));
}
END_TEST

START_TEST(site_key_reports_missing_file)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/absent", tmpdir);
    TkSecret *key = NULL;
    TkError e = {};
    ck_assert_int_eq(tk_site_key_load(path, &key, &e), -ENOENT);
    ck_assert_ptr_nonnull(strstr(e.message, path));
}
END_TEST

static Suite *so_pin_suite(void)
{
    Suite *s = suite_create("so-pin");
    TCase *tc = tcase_create("derive");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, so_pin_reference_mac_matches_openssl_command);
    tcase_add_test(tc, so_pin_known_answer);
    tcase_add_test(tc, so_pin_uses_counter_blocks_when_bytes_are_rejected);
    tcase_add_test(tc, so_pin_is_derived_from_the_serials_own_bytes);
    tcase_add_test(tc, so_pin_refuses_serials_libtoken_never_reports);
    tcase_add_test(tc, so_pin_honours_length_and_is_digits_only);
    tcase_add_test(tc, so_pin_differs_between_serials);
    tcase_add_test(tc, so_pin_refuses_bad_arguments);
    suite_add_tcase(s, tc);

    tc = tcase_create("site-key");
    tcase_set_timeout(tc, 10);
    tcase_add_checked_fixture(tc, make_tmpdir, remove_tmpdir);
    tcase_add_test(tc, site_key_loads_raw_bytes);
    tcase_add_test(tc, site_key_refuses_group_readable_file);
    tcase_add_test(tc, site_key_refuses_short_key);
    tcase_add_test(tc, site_key_reports_missing_file);
    suite_add_tcase(s, tc);
    return s;
}

TK_TEST_MAIN(so_pin_suite())
