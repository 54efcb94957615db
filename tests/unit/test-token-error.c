/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "text-escape.h"
#include "tk-test.h"
#include "token-error.h"

#define NAME(name, err) name,
static const char *const all_names[] = {TK_ERROR_FOREACH(NAME)};
#undef NAME

START_TEST(every_error_name_maps_to_errno_and_back)
{
    for (size_t i = 0; i < ELEMENTSOF(all_names); i++) {
        int err = tk_error_name_to_errno(all_names[i]);
        ck_assert_int_lt(err, 0);
        ck_assert_str_eq(tk_error_errno_to_name(err), all_names[i]);
        ck_assert_str_eq(tk_error_errno_to_name(-err), all_names[i]);
    }
}
END_TEST

START_TEST(error_names_have_distinct_errnos)
{
    for (size_t i = 0; i < ELEMENTSOF(all_names); i++)
        for (size_t j = i + 1; j < ELEMENTSOF(all_names); j++)
            ck_assert_int_ne(tk_error_name_to_errno(all_names[i]),
                             tk_error_name_to_errno(all_names[j]));
}
END_TEST

START_TEST(known_errnos_map_to_documented_names)
{
    ck_assert_str_eq(tk_error_errno_to_name(-ENOLCK), TK_ERROR_PIN_INCORRECT);
    ck_assert_str_eq(tk_error_errno_to_name(-EPERM), TK_ERROR_PIN_LOCKED);
    ck_assert_str_eq(tk_error_errno_to_name(-ENODEV), TK_ERROR_TOKEN_REMOVED);
    ck_assert_str_eq(tk_error_errno_to_name(-EKEYREJECTED), TK_ERROR_PIN_POLICY);
    ck_assert_str_eq(tk_error_errno_to_name(-ENOTUNIQ), TK_ERROR_SERIAL_CONFLICT);
    ck_assert_str_eq(TK_ERROR_PIN_INCORRECT, "org.tokend.Tokend1.Error.PinIncorrect");
}
END_TEST

START_TEST(names_are_known_and_shortened)
{
    ck_assert(tk_error_name_is_known(TK_ERROR_BUSY));
    ck_assert(!tk_error_name_is_known("org.freedesktop.DBus.Error.NoReply"));
    ck_assert(!tk_error_name_is_known("Busy"));
    ck_assert(!tk_error_name_is_known(NULL));
    ck_assert_str_eq(tk_error_short_name(TK_ERROR_SO_PIN_FINAL_TRY), "SoPinFinalTry");
    ck_assert_str_eq(tk_error_short_name("org.freedesktop.DBus.Error.AccessDenied"),
                     "AccessDenied");
    ck_assert_str_eq(tk_error_short_name("Plain"), "Plain");
    ck_assert_ptr_null(tk_error_short_name(NULL));
}
END_TEST

START_TEST(unknown_name_and_errno_fall_back_to_failed)
{
    ck_assert_int_eq(tk_error_name_to_errno("NoSuchError"), -EIO);
    ck_assert_int_eq(tk_error_name_to_errno(NULL), -EIO);
    ck_assert_str_eq(tk_error_errno_to_name(-ETIMEDOUT), TK_ERROR_FAILED);
    ck_assert_str_eq(tk_error_errno_to_name(-ENOENT), TK_ERROR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(error_set_fills_name_message_and_returns_errno)
{
    TkError e = {};
    ck_assert(!tk_error_is_set(&e));
    ck_assert_int_eq(tk_error_set(&e, -ENODEV, NULL, "token %s gone", "X1"), -ENODEV);
    ck_assert(tk_error_is_set(&e));
    ck_assert_str_eq(e.name, TK_ERROR_TOKEN_REMOVED);
    ck_assert_str_eq(e.message, "token X1 gone");
    ck_assert_int_eq(tk_error_set(NULL, -EINVAL, TK_ERROR_INVALID_ARGUMENT, "x"), -EINVAL);
}
END_TEST

START_TEST(error_message_cut_short_stays_utf8)
{
    /* 中 is three bytes: the 511 bytes a message holds end 0, 1 or 2 bytes into one. */
    char text[700] = "";
    for (int i = 0; i < 200; i++)
        strcat(text, "\xe4\xb8\xad");
    static const struct {
        const char *prefix;
        size_t want;
    } cases[] = {{"", 510}, {"a", 511}, {"ab", 509}};
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        TkError e = {};
        tk_error_set(&e, -EIO, NULL, "%s%s", cases[i].prefix, text);
        ck_assert_uint_eq(strlen(e.message), cases[i].want);
        ck_assert(tk_utf8_is_valid(e.message, strlen(e.message)));
    }
}
END_TEST

static Suite *token_error_suite(void)
{
    Suite *s = suite_create("token-error");
    TCase *tc = tcase_create("mapping");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, every_error_name_maps_to_errno_and_back);
    tcase_add_test(tc, error_names_have_distinct_errnos);
    tcase_add_test(tc, known_errnos_map_to_documented_names);
    tcase_add_test(tc, names_are_known_and_shortened);
    tcase_add_test(tc, unknown_name_and_errno_fall_back_to_failed);
    tcase_add_test(tc, error_set_fills_name_message_and_returns_errno);
    tcase_add_test(tc, error_message_cut_short_stays_utf8);
    suite_add_tcase(s, tc);
    return s;
}

TK_TEST_MAIN(token_error_suite())
