/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config.h" /* the build configuration: the defaults */
#include "tk-run.h"
#include "tk-test.h"
#include "tokend-config.h"

/* Loads text as a configuration file; returns config_load()'s result and the error. */
static int load(const char *text, Config *c, TkError *e, char **ret_path)
{
    char *dir = tk_make_temp_dir("tokend-config-test");
    ck_assert_ptr_nonnull(dir);
    char *path;
    ck_assert_int_ge(asprintf(&path, "%s/tokend.conf", dir), 0);
    ck_assert_int_eq(tk_write_file(path, text, strlen(text)), 0);
    ck_assert_int_eq(config_init(c), 0);
    int r = config_load(c, path, false, e);
    tk_remove_tree(dir);
    free(dir);
    if (ret_path)
        *ret_path = path;
    else
        free(path);
    return r;
}

START_TEST(defaults_without_a_file)
{
    Config c;
    TkError e = {};
    ck_assert_int_eq(config_init(&c), 0);
    ck_assert_int_eq(config_load(&c, "/nonexistent/tokend.conf", true, &e), 0);
    ck_assert_uint_eq(strv_length(c.modules), 1);
    ck_assert_str_eq(c.modules[0], TOKEND_DEFAULT_MODULE);
    ck_assert_uint_eq(c.pin_min_length, 6);
    ck_assert(c.pin_reject_trivial);
    ck_assert(c.unblock_require_request);
    ck_assert_ptr_null(c.site_key_file);
    ck_assert_str_eq(c.audit_file, TOKEND_AUDIT_FILE);
    config_done(&c);
}
END_TEST

START_TEST(missing_file_given_explicitly_is_an_error)
{
    Config c;
    TkError e = {};
    ck_assert_int_eq(config_init(&c), 0);
    ck_assert_int_lt(config_load(&c, "/nonexistent/tokend.conf", false, &e), 0);
    ck_assert_ptr_nonnull(strstr(e.message, "/nonexistent/tokend.conf"));
    config_done(&c);
}
END_TEST

START_TEST(every_key_is_read)
{
    Config c;
    TkError e = {};
    int r = load("[Modules]\n"
                 "Module=/usr/lib/softhsm/libsofthsm2.so ; a comment\n"
                 "Module=/opt/vendor/p11.so\n"
                 "[Pin]\nMinLength=8\nRejectTrivial=no\n"
                 "[Unblock]\nRequireRequest=false\nSiteKeyFile=/etc/tokend/site.key\n"
                 "[Audit]\nFile=/srv/audit.jsonl\n",
                 &c, &e, NULL);
    ck_assert_msg(r == 0, "%s", e.message);
    ck_assert_uint_eq(strv_length(c.modules), 2);
    ck_assert_str_eq(c.modules[0], "/usr/lib/softhsm/libsofthsm2.so");
    ck_assert_str_eq(c.modules[1], "/opt/vendor/p11.so");
    ck_assert_uint_eq(c.pin_min_length, 8);
    ck_assert(!c.pin_reject_trivial);
    ck_assert(!c.unblock_require_request);
    ck_assert_str_eq(c.site_key_file, "/etc/tokend/site.key");
    ck_assert_str_eq(c.audit_file, "/srv/audit.jsonl");
    config_done(&c);
}
END_TEST

START_TEST(empty_site_key_file_means_none)
{
    Config c;
    TkError e = {};
    ck_assert_int_eq(load("[Unblock]\nSiteKeyFile=\n", &c, &e, NULL), 0);
    ck_assert_ptr_null(c.site_key_file);
    config_done(&c);
}
END_TEST

/* Each refusal names the file, the line and the key. */
static void check_refused(const char *text, int line, const char *key)
{
    Config c;
    TkError e = {};
    char *path, where[512];
    int r = load(text, &c, &e, &path);
    ck_assert_int_lt(r, 0);
    ck_assert_str_eq(e.name, TK_ERROR_INVALID_ARGUMENT);
    snprintf(where, sizeof(where), "%s:%d:", path, line);
    ck_assert_msg(strncmp(e.message, where, strlen(where)) == 0, "'%s' does not start with '%s'",
                  e.message, where);
    ck_assert_msg(strstr(e.message, key), "'%s' does not name %s", e.message, key);
    free(path);
    config_done(&c);
}

START_TEST(unknown_key_names_file_line_and_key)
{
    check_refused("[Pin]\nMinLength=6\nMaxLength=8\n", 3, "MaxLength");
}
END_TEST

START_TEST(unknown_section_names_file_line_and_section)
{
    check_refused("[Modules]\n\n[Readers]\nIgnore=x\n", 4, "Readers");
}
END_TEST

START_TEST(bad_values_are_refused)
{
    check_refused("[Pin]\nMinLength=six\n", 2, "MinLength");
    check_refused("[Pin]\nMinLength=-1\n", 2, "MinLength");
    check_refused("[Pin]\nRejectTrivial=maybe\n", 2, "RejectTrivial");
    check_refused("[Unblock]\nRequireRequest=2\n", 2, "RequireRequest");
    check_refused("[Modules]\nModule=opensc-pkcs11.so\n", 2, "Module");
    check_refused("[Audit]\nFile=\n", 2, "File");
    check_refused("[Unblock]\nSiteKeyFile=site.key\n", 2, "SiteKeyFile");
}
END_TEST

START_TEST(store_keys_are_read)
{
    Config c;
    TkError e = {};
    ck_assert_int_eq(load("[Pin]\n", &c, &e, NULL), 0);
    ck_assert_int_eq(c.store_backend, STORE_FILE);
    ck_assert_ptr_null(c.store_connection);
    ck_assert_ptr_null(c.store_station);
    ck_assert_int_eq(c.store_unreachable, STORE_RECORD_LOCALLY);
    config_done(&c);

    ck_assert_int_eq(load("[Store]\nWhenUnreachable=refuse\n", &c, &e, NULL), 0);
    ck_assert_int_eq(c.store_unreachable, STORE_REFUSE);
    config_done(&c);

    int r = load("[Store]\nBackend=postgresql\nConnection=host=db dbname=tokend password='x y'\n"
                 "Station=counter-1\nWhenUnreachable=record-locally\n",
                 &c, &e, NULL);
    if (!TOKEND_HAVE_POSTGRESQL) {
        ck_assert_int_eq(r, -EOPNOTSUPP);
        ck_assert_ptr_nonnull(strstr(e.message, "without PostgreSQL"));
        config_done(&c);
        return;
    }
    ck_assert_int_eq(r, 0);
    ck_assert_int_eq(c.store_backend, STORE_POSTGRESQL);
    ck_assert_str_eq(c.store_connection, "host=db dbname=tokend password='x y'");
    ck_assert_str_eq(c.store_station, "counter-1");
    config_done(&c);
}
END_TEST

START_TEST(bad_store_values_are_refused)
{
    check_refused("[Store]\nBackend=sqlite\n", 2, "Backend");
    check_refused("[Store]\n\nStation=counter 1\n", 3, "Station");
    check_refused("[Store]\nStation=0123456789012345678901234567890123456789012345678901234567890"
                  "12345\n",
                  2, "Station");
    check_refused("[Store]\nUser=tokend\n", 2, "User");
    check_refused("[Store]\nWhenUnreachable=queue\n", 2, "WhenUnreachable");
    if (TOKEND_HAVE_POSTGRESQL) {
        /* Refused without quoting it back: the string may hold a password. */
        Config c;
        TkError e = {};
        check_refused("[Store]\nConnection=host=db password\n", 2, "Connection");
        ck_assert_int_lt(load("[Store]\nConnection=host=db password=s3cret user\n", &c, &e, NULL),
                         0);
        ck_assert_ptr_null(strstr(e.message, "s3cret"));
        config_done(&c);
    }
}
END_TEST

START_TEST(key_outside_any_section_is_refused)
{
    check_refused("Module=/usr/lib/x.so\n", 1, "Module");
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, defaults_without_a_file);
    tcase_add_test(tc, missing_file_given_explicitly_is_an_error);
    tcase_add_test(tc, every_key_is_read);
    tcase_add_test(tc, empty_site_key_file_means_none);
    tcase_add_test(tc, unknown_key_names_file_line_and_key);
    tcase_add_test(tc, unknown_section_names_file_line_and_section);
    tcase_add_test(tc, bad_values_are_refused);
    tcase_add_test(tc, key_outside_any_section_is_refused);
    tcase_add_test(tc, store_keys_are_read);
    tcase_add_test(tc, bad_store_values_are_refused);
    suite_add_tcase(s, tc);
    return s;
}

TK_TEST_MAIN(config_suite())
