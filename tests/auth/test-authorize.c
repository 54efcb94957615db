/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one table from Token method to polkit action, against the shipped policy file. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authorize.h"
#include "macro.h"
#include "tk-run.h"
#include "tk-test.h"

static const char *const methods[] = {"ListObjects",       "GenerateKeyPair", "CreateRequest",
                                      "ImportCertificate", "ChangePin",       "UnblockPin",
                                      "Initialize",        "DeleteObject"};

START_TEST(every_token_method_has_an_entry)
{
    for (size_t i = 0; i < ELEMENTSOF(methods); i++)
        ck_assert_msg(authorize_action(methods[i]), "%s missing", methods[i]);
    ck_assert_str_eq(authorize_action("ListObjects"), "");
    ck_assert_str_eq(authorize_action("UnblockPin"), "org.tokend.unblock-pin");
    ck_assert_str_eq(authorize_action("CreateRequest"), "org.tokend.generate-key");
}
END_TEST

START_TEST(unknown_methods_have_no_action)
{
    ck_assert_ptr_null(authorize_action("FormatEverything"));
    ck_assert_ptr_null(authorize_action(NULL));
}
END_TEST

START_TEST(every_action_is_in_the_policy_file)
{
    char *policy = tk_read_file(TOKEND_POLICY_FILE, NULL);
    ck_assert_ptr_nonnull(policy);
    for (size_t i = 0; i < ELEMENTSOF(methods); i++) {
        const char *action = authorize_action(methods[i]);
        if (isempty(action))
            continue;
        char *needle;
        ck_assert_int_ge(asprintf(&needle, "<action id=\"%s\">", action), 0);
        ck_assert_msg(strstr(policy, needle), "%s not in the policy", action);
        free(needle);
    }
    free(policy);
}
END_TEST

static Suite *authorize_suite(void)
{
    Suite *s = suite_create("authorize");
    TCase *tc = tcase_create("table");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, every_token_method_has_an_entry);
    tcase_add_test(tc, unknown_methods_have_no_action);
    tcase_add_test(tc, every_action_is_in_the_policy_file);
    suite_add_tcase(s, tc);
    return s;
}

TK_TEST_MAIN(authorize_suite())
