/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's audit trail: what lands in the chained file for an act, from its intent to its
 * outcome, by the operation table's rows. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audit.h"
#include "operations.h"
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

START_TEST(every_recorded_row_has_its_own_message_id)
{
    for (size_t i = 0; i < n_operations; i++) {
        const Operation *op = &operations[i];
        if (!operation_audited(op)) {
            ck_assert_msg(!op->message_id, "%s/%s has a MESSAGE_ID but is not recorded", op->member,
                          strempty(op->variant));
            continue;
        }
        ck_assert_msg(op->message_id, "%s/%s is recorded but has no MESSAGE_ID", op->member,
                      strempty(op->variant));
        ck_assert_uint_eq(strlen(op->message_id), 32);
        ck_assert_uint_eq(strspn(op->message_id, "0123456789abcdef"), 32);
        ck_assert_ptr_nonnull(op->verb);
        ck_assert_str_eq(audit_message_id(op->name), op->message_id);
        for (size_t j = 0; j < i; j++)
            if (operations[j].message_id && !streq(operations[j].name, op->name))
                ck_assert_str_ne(op->message_id, operations[j].message_id);
    }
    ck_assert_ptr_null(audit_message_id("format-everything"));
}
END_TEST

START_TEST(intent_then_outcome_land_in_a_verifiable_file)
{
    const Operation *unblock = operation_find("UnblockPin", NULL);
    TkAuditRecord rec = {.time_usec = 1,
                         .operation = unblock->name,
                         .serial = "0012ab",
                         .uid = 1001,
                         .pid = 4242,
                         .request = "ULA-2026-0042"};
    TkError error = {};

    uint64_t intent = 0;
    ck_assert_int_eq(audit_intent(path, unblock, &rec, &intent, &error), 0);
    ck_assert_uint_eq(intent, 1);
    rec.result = "refused";
    rec.error = "SoPinFinalTry";
    rec.intent = intent;
    ck_assert_int_eq(audit_record(path, unblock, &rec, &error), 0);

    TkAuditVerifyResult result;
    ck_assert_int_eq(tk_audit_verify(path, &result, &error), 0);
    ck_assert_uint_eq(result.lines, 2);

    char *text = tk_read_file(path, NULL);
    char *second = strchr(text, '\n');
    ck_assert_ptr_nonnull(second);
    *second++ = 0;
    ck_assert_ptr_nonnull(strstr(text, "\"result\":\"intent\""));
    ck_assert_ptr_nonnull(strstr(text, "ULA-2026-0042"));
    ck_assert_ptr_null(strstr(text, "SoPinFinalTry"));
    ck_assert_ptr_nonnull(strstr(second, "\"result\":\"refused\""));
    ck_assert_ptr_nonnull(strstr(second, "SoPinFinalTry"));
    ck_assert_ptr_nonnull(strstr(second, "\"uid\":1001"));
    ck_assert_ptr_nonnull(strstr(text, "\"intent\":null"));
    ck_assert_ptr_nonnull(strstr(second, "\"intent\":1,"));
    free(text);

    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, TK_AUDIT_FILE_MODE);
}
END_TEST

START_TEST(unwritable_trail_refuses_the_intent_naming_the_file)
{
    char *bad;
    ck_assert_int_ge(asprintf(&bad, "%s/missing-dir/audit.jsonl", dir), 0);
    const Operation *init = operation_find("Initialize", NULL);
    TkAuditRecord r = {.operation = init->name, .serial = "1"};
    TkError error = {};
    ck_assert_int_lt(audit_intent(bad, init, &r, NULL, &error), 0);
    ck_assert_ptr_nonnull(strstr(error.message, bad));
    ck_assert_str_eq(error.name, TK_ERROR_FAILED);
    free(bad);
}
END_TEST

START_TEST(a_row_that_is_not_recorded_is_refused)
{
    const Operation *list = operation_find("ListObjects", NULL);
    TkAuditRecord r = {.operation = list->name, .serial = "1", .result = "ok"};
    TkError error = {};
    ck_assert_int_eq(audit_record(path, list, &r, &error), -EINVAL);
    ck_assert_int_eq(audit_intent(path, list, &r, NULL, &error), -EINVAL);
    ck_assert_ptr_null(tk_read_file(path, NULL));
}
END_TEST

static Suite *audit_suite(void)
{
    Suite *s = suite_create("audit");
    TCase *tc = tcase_create("trail");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, every_recorded_row_has_its_own_message_id);
    tcase_add_test(tc, intent_then_outcome_land_in_a_verifiable_file);
    tcase_add_test(tc, unwritable_trail_refuses_the_intent_naming_the_file);
    tcase_add_test(tc, a_row_that_is_not_recorded_is_refused);
    suite_add_tcase(s, tc);
    return s;
}

TK_TEST_MAIN(audit_suite())
