/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Which retry count a helpdesk is shown, and where it is said to come from. */
#include <check.h>

#include "retries.h"
#include "tk-test.h"

static TkTokenInfo info_with_flags(TkPinState user, TkPinState so)
{
    TkTokenInfo info = {
        .user_pin_state = user,
        .so_pin_state = so,
        .user_pin_retries = user == TK_PIN_LOCKED      ? 0
                            : user == TK_PIN_FINAL_TRY ? 1
                                                       : -1,
        .so_pin_retries = so == TK_PIN_LOCKED      ? 0
                          : so == TK_PIN_FINAL_TRY ? 1
                                                   : -1,
    };
    info.user_pin_retries_source =
        info.user_pin_retries >= 0 ? TK_RETRIES_FLAGS : TK_RETRIES_UNKNOWN;
    info.so_pin_retries_source = info.so_pin_retries >= 0 ? TK_RETRIES_FLAGS : TK_RETRIES_UNKNOWN;
    return info;
}

START_TEST(card_counts_win_over_flags)
{
    TkTokenInfo info = info_with_flags(TK_PIN_OK, TK_PIN_OK);
    TkCardRetries card = {.user = 2, .so = 3, .puk = 1};
    tk_token_info_apply_retries(&info, &card, true, -1, 3);
    ck_assert_int_eq(info.user_pin_retries, 2);
    ck_assert_int_eq(info.user_pin_retries_source, TK_RETRIES_CARD);
    /* The PUK's count stands for the SO side where the token unblocks with a PUK. */
    ck_assert_int_eq(info.so_pin_retries, 1);
    ck_assert_int_eq(info.so_pin_retries_source, TK_RETRIES_CARD);
    ck_assert_int_eq(info.so_pin_state, TK_PIN_FINAL_TRY);
}
END_TEST

START_TEST(card_zero_means_locked)
{
    TkTokenInfo info = info_with_flags(TK_PIN_FINAL_TRY, TK_PIN_OK);
    TkCardRetries card = {.user = 0, .so = -1, .puk = -1};
    tk_token_info_apply_retries(&info, &card, false, -1, 3);
    ck_assert_int_eq(info.user_pin_state, TK_PIN_LOCKED);
    ck_assert_int_eq(info.user_pin_retries, 0);
}
END_TEST

START_TEST(flags_stay_when_the_card_says_nothing)
{
    TkTokenInfo info = info_with_flags(TK_PIN_FINAL_TRY, TK_PIN_LOCKED);
    TkCardRetries card = TK_CARD_RETRIES_UNKNOWN;
    tk_token_info_apply_retries(&info, &card, false, 1, 3);
    ck_assert_int_eq(info.user_pin_retries, 1);
    ck_assert_int_eq(info.user_pin_retries_source, TK_RETRIES_FLAGS);
    ck_assert_int_eq(info.so_pin_retries, 0);
    ck_assert_int_eq(info.so_pin_retries_source, TK_RETRIES_FLAGS);
}
END_TEST

START_TEST(ledger_counts_the_puk_when_nothing_else_can)
{
    /* OpenSC shows no PUK counter: the SO flags belong to the SO PIN, not the PUK. */
    TkTokenInfo info = info_with_flags(TK_PIN_LOCKED, TK_PIN_FINAL_TRY);
    tk_token_info_apply_retries(&info, NULL, true, 2, 3);
    ck_assert_int_eq(info.so_pin_retries, 1);
    ck_assert_int_eq(info.so_pin_retries_source, TK_RETRIES_LEDGER);
    ck_assert_int_eq(info.so_pin_state, TK_PIN_FINAL_TRY);

    tk_token_info_apply_retries(&info, NULL, true, 0, 3);
    ck_assert_int_eq(info.so_pin_retries, 3);
    ck_assert_int_eq(info.so_pin_state, TK_PIN_COUNT_LOW);
}
END_TEST

START_TEST(puk_count_is_unknown_without_card_or_ledger)
{
    TkTokenInfo info = info_with_flags(TK_PIN_OK, TK_PIN_FINAL_TRY);
    tk_token_info_apply_retries(&info, NULL, true, -1, 3);
    ck_assert_int_eq(info.so_pin_retries, -1);
    ck_assert_int_eq(info.so_pin_retries_source, TK_RETRIES_UNKNOWN);
}
END_TEST

static Suite *retries_suite(void)
{
    Suite *s = suite_create("retries");
    TCase *tc = tcase_create("sources");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, card_counts_win_over_flags);
    tcase_add_test(tc, card_zero_means_locked);
    tcase_add_test(tc, flags_stay_when_the_card_says_nothing);
    tcase_add_test(tc, ledger_counts_the_puk_when_nothing_else_can);
    tcase_add_test(tc, puk_count_is_unknown_without_card_or_ledger);
    suite_add_tcase(s, tc);
    return s;
}

TK_TEST_MAIN(retries_suite())
