/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "pin-policy.h"
#include "tk-test.h"

static const TkPinPolicy strict = {.site_min_length = 6, .reject_trivial = true};
static const TkPinPolicy lax = {.site_min_length = 4, .reject_trivial = false};

/* Runs the check on C strings; old may be NULL. */
static int check_pin(const TkPinPolicy *p, unsigned tmin, unsigned tmax, const char *pin,
                     const char *old, TkError *error)
{
    _cleanup_secret_ TkSecret *n = NULL, *o = NULL;
    ck_assert_int_eq(tk_secret_new_string(pin, &n), 0);
    if (old)
        ck_assert_int_eq(tk_secret_new_string(old, &o), 0);
    return tk_pin_policy_check(p, tmin, tmax, n, o, error);
}

static void assert_refused(const TkPinPolicy *p, unsigned tmin, unsigned tmax, const char *pin,
                           const char *old, const char *message_part)
{
    TkError e = {};
    ck_assert_int_eq(check_pin(p, tmin, tmax, pin, old, &e), -EKEYREJECTED);
    ck_assert_str_eq(e.name, TK_ERROR_PIN_POLICY);
    ck_assert_msg(strstr(e.message, message_part), "message '%s' lacks '%s'", e.message,
                  message_part);
    ck_assert_msg(!*pin || !strstr(e.message, pin), "message '%s' contains the PIN", e.message);
}

START_TEST(policy_accepts_good_pin)
{
    TkError e = {};
    ck_assert_int_eq(check_pin(&strict, 4, 8, "361947", "123123", &e), 0);
    ck_assert(!tk_error_is_set(&e));
    ck_assert_int_eq(check_pin(&strict, 0, 0, "361947", NULL, NULL), 0);
}
END_TEST

START_TEST(policy_refuses_below_site_minimum)
{
    assert_refused(&strict, 4, 8, "36194", NULL, "at least 6");
}
END_TEST

START_TEST(policy_refuses_below_token_minimum)
{
    assert_refused(&lax, 8, 16, "3619475", NULL, "at least 8");
    ck_assert_int_eq(check_pin(&lax, 8, 16, "36194752", NULL, NULL), 0);
}
END_TEST

START_TEST(policy_refuses_above_token_maximum)
{
    assert_refused(&strict, 4, 8, "361947528", NULL, "at most 8");
    ck_assert_int_eq(check_pin(&strict, 4, 8, "36194752", NULL, NULL), 0);
}
END_TEST

START_TEST(policy_reports_site_minimum_above_token_maximum)
{
    TkPinPolicy p = {.site_min_length = 10, .reject_trivial = true};
    assert_refused(&p, 4, 8, "36194752", NULL, "MinLength");
}
END_TEST

START_TEST(policy_refuses_empty_pin_without_any_minimum)
{
    TkPinPolicy p = {.site_min_length = 0};
    assert_refused(&p, 0, 0, "", NULL, "at least 1");
}
END_TEST

START_TEST(policy_refuses_repeated_digit)
{
    assert_refused(&strict, 4, 8, "111111", NULL, "repeated");
    assert_refused(&strict, 4, 8, "00000000", NULL, "repeated");
}
END_TEST

START_TEST(policy_refuses_repeated_letter)
{
    assert_refused(&strict, 4, 8, "aaaaaa", NULL, "repeated");
}
END_TEST

START_TEST(policy_refuses_ascending_run)
{
    assert_refused(&strict, 4, 8, "123456", NULL, "ascending");
    assert_refused(&strict, 4, 8, "0123456", NULL, "ascending");
    assert_refused(&strict, 4, 10, "3456789", NULL, "ascending");
}
END_TEST

START_TEST(policy_refuses_descending_run)
{
    assert_refused(&strict, 4, 8, "654321", NULL, "descending");
    assert_refused(&strict, 4, 12, "9876543210", NULL, "descending");
}
END_TEST

START_TEST(policy_does_not_wrap_runs_from_nine_to_zero)
{
    ck_assert_int_eq(check_pin(&strict, 4, 8, "789012", NULL, NULL), 0);
    ck_assert_int_eq(check_pin(&strict, 4, 8, "210987", NULL, NULL), 0);
}
END_TEST

START_TEST(policy_runs_only_apply_to_digits)
{
    ck_assert_int_eq(check_pin(&strict, 4, 8, "abcdef", NULL, NULL), 0);
}
END_TEST

START_TEST(policy_accepts_almost_trivial_pins)
{
    ck_assert_int_eq(check_pin(&strict, 4, 8, "111112", NULL, NULL), 0);
    ck_assert_int_eq(check_pin(&strict, 4, 8, "123457", NULL, NULL), 0);
    ck_assert_int_eq(check_pin(&strict, 4, 8, "654320", NULL, NULL), 0);
}
END_TEST

START_TEST(policy_allows_trivial_when_site_allows)
{
    ck_assert_int_eq(check_pin(&lax, 4, 8, "1111", NULL, NULL), 0);
    ck_assert_int_eq(check_pin(&lax, 4, 8, "1234", NULL, NULL), 0);
}
END_TEST

START_TEST(policy_refuses_old_pin)
{
    assert_refused(&strict, 4, 8, "361947", "361947", "differ");
    assert_refused(&lax, 4, 8, "1111", "1111", "differ");
}
END_TEST

static Suite *pin_policy_suite(void)
{
    Suite *s = suite_create("pin-policy");
    TCase *tc = tcase_create("rules");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, policy_accepts_good_pin);
    tcase_add_test(tc, policy_refuses_below_site_minimum);
    tcase_add_test(tc, policy_refuses_below_token_minimum);
    tcase_add_test(tc, policy_refuses_above_token_maximum);
    tcase_add_test(tc, policy_reports_site_minimum_above_token_maximum);
    tcase_add_test(tc, policy_refuses_empty_pin_without_any_minimum);
    tcase_add_test(tc, policy_refuses_repeated_digit);
    tcase_add_test(tc, policy_refuses_repeated_letter);
    tcase_add_test(tc, policy_refuses_ascending_run);
    tcase_add_test(tc, policy_refuses_descending_run);
    tcase_add_test(tc, policy_does_not_wrap_runs_from_nine_to_zero);
    tcase_add_test(tc, policy_runs_only_apply_to_digits);
    tcase_add_test(tc, policy_accepts_almost_trivial_pins);
    tcase_add_test(tc, policy_allows_trivial_when_site_allows);
    tcase_add_test(tc, policy_refuses_old_pin);
    suite_add_tcase(s, tc);
    return s;
}

TK_TEST_MAIN(pin_policy_suite())
