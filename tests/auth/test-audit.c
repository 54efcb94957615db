/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's audit trail: what lands in the chained file for an act, allowed or refused. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audit.h"
#include "tk-run.h"
#include "tk-test.h"

static char *dir, *path;

static void setup(void)
{
    dir = tk_make_temp_dir("tokend-audit");
    ck_assert_ptr_nonnull(dir);
    ck_assert_int_ge(asprintf(&path, "%s/audit.jsonl", dir), 0);
}

static void teardown(void)
{
    tk_remove_tree(dir);
    free(dir);
    free(path);
}

START_TEST(every_operation_has_its_own_message_id)
{
    static const char *const ops[] = {"generate-key", "create-request", "import-certificate",
                                      "change-pin",   "unblock-pin",    "initialize",
                                      "delete-object"};
    for (size_t i = 0; i < ELEMENTSOF(ops); i++) {
        const char *id = audit_message_id(ops[i]);
        ck_assert_ptr_nonnull(id);
        ck_assert_uint_eq(strlen(id), 32);
        ck_assert_uint_eq(strspn(id, "0123456789abcdef"), 32);
        for (size_t j = 0; j < i; j++)
            ck_assert_str_ne(id, audit_message_id(ops[j]));
    }
    ck_assert_ptr_null(audit_message_id("list-objects"));
}
END_TEST

START_TEST(allowed_and_refused_acts_land_in_a_verifiable_file)
{
    TkAuditRecord ok = {.time_usec = 1,
                        .operation = "unblock-pin",
                        .serial = "0012ab",
                        .uid = 1001,
                        .pid = 4242,
                        .request = "ULA-2026-0042",
                        .result = "ok"};
    TkAuditRecord refused = ok;
    refused.result = "refused";
    refused.error = "SoPinFinalTry";
    TkError error = {};

    ck_assert_int_eq(audit_check_writable(path, &error), 0);
    ck_assert_int_eq(audit_record(path, &ok, &error), 0);
    ck_assert_int_eq(audit_record(path, &refused, &error), 0);

    TkAuditVerifyResult result;
    ck_assert_int_eq(tk_audit_verify(path, &result, &error), 0);
    ck_assert_uint_eq(result.lines, 2);

    char *text = tk_read_file(path, NULL);
    ck_assert_ptr_nonnull(strstr(text, "ULA-2026-0042"));
    ck_assert_ptr_nonnull(strstr(text, "SoPinFinalTry"));
    ck_assert_ptr_nonnull(strstr(text, "\"uid\":1001"));
    free(text);

    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
}
END_TEST

START_TEST(unwritable_trail_is_an_error_naming_the_file)
{
    char *bad;
    ck_assert_int_ge(asprintf(&bad, "%s/missing-dir/audit.jsonl", dir), 0);
    TkAuditRecord r = {.operation = "initialize", .serial = "1", .result = "ok"};
    TkError error = {};
    ck_assert_int_lt(audit_check_writable(bad, &error), 0);
    ck_assert_ptr_nonnull(strstr(error.message, bad));
    ck_assert_int_lt(audit_record(bad, &r, &error), 0);
    ck_assert_str_eq(error.name, TK_ERROR_FAILED);
    free(bad);
}
END_TEST

START_TEST(unknown_operation_is_refused)
{
    TkAuditRecord r = {.operation = "format-c", .serial = "1", .result = "ok"};
    TkError error = {};
    ck_assert_int_eq(audit_record(path, &r, &error), -EINVAL);
    ck_assert_ptr_null(tk_read_file(path, NULL));
}
END_TEST

static Suite *audit_suite(void)
{
    Suite *s = suite_create("audit");
    TCase *tc = tcase_create("trail");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, every_operation_has_its_own_message_id);
    tcase_add_test(tc, allowed_and_refused_acts_land_in_a_verifiable_file);
    tcase_add_test(tc, unwritable_trail_is_an_error_naming_the_file);
    tcase_add_test(tc, unknown_operation_is_refused);
    suite_add_tcase(s, tc);
    return s;
}

TK_TEST_MAIN(audit_suite())
