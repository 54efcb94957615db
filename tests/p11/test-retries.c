/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Which retry count a helpdesk is shown, where it is said to come from, and how a wrong PIN's
 * error words it. */
#include <check.h>
#include <errno.h>

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
    /* Where the token unblocks with a PUK, the PUK and the SO PIN are counted apart. */
    ck_assert(info.has_puk);
    ck_assert_int_eq(info.puk_retries, 1);
    ck_assert_int_eq(info.puk_retries_source, TK_RETRIES_CARD);
    ck_assert_int_eq(info.puk_state, TK_PIN_FINAL_TRY);
    ck_assert_int_eq(info.so_pin_retries, 3);
    ck_assert_int_eq(info.so_pin_retries_source, TK_RETRIES_CARD);
    ck_assert_int_eq(info.so_pin_state, TK_PIN_OK);
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
    ck_assert_int_eq(info.puk_retries, 1);
    ck_assert_int_eq(info.puk_retries_source, TK_RETRIES_LEDGER);
    ck_assert_int_eq(info.puk_state, TK_PIN_FINAL_TRY);
    /* The SO PIN keeps what its own flags say. */
    ck_assert_int_eq(info.so_pin_retries, 1);
    ck_assert_int_eq(info.so_pin_retries_source, TK_RETRIES_FLAGS);

    tk_token_info_apply_retries(&info, NULL, true, 0, 3);
    ck_assert_int_eq(info.puk_retries, 3);
    ck_assert_int_eq(info.puk_state, TK_PIN_OK);
}
END_TEST

START_TEST(puk_count_is_unknown_without_card_or_ledger)
{
    TkTokenInfo info = info_with_flags(TK_PIN_OK, TK_PIN_FINAL_TRY);
    tk_token_info_apply_retries(&info, NULL, true, -1, 3);
    ck_assert_int_eq(info.puk_retries, -1);
    ck_assert_int_eq(info.puk_retries_source, TK_RETRIES_UNKNOWN);
    ck_assert_int_eq(info.so_pin_retries, 1);
    ck_assert_int_eq(info.so_pin_retries_source, TK_RETRIES_FLAGS);
}
END_TEST

START_TEST(puk_of_unknown_start_value_is_unknown_whatever_the_ledger_counted)
{
    /* A card that unblocks with a PUK but does not answer as a MyEID: its PUK's start value is
     * not known, and failures alone do not say how many tries are left. */
    TkTokenInfo info = info_with_flags(TK_PIN_LOCKED, TK_PIN_OK);
    tk_token_info_apply_retries(&info, NULL, true, 2, 0);
    ck_assert(info.has_puk);
    ck_assert_int_eq(info.puk_retries, -1);
    ck_assert_int_eq(info.puk_retries_source, TK_RETRIES_UNKNOWN);
    ck_assert_int_eq(info.puk_state, TK_PIN_OK);
    ck_assert(!tk_retries_so_from_ledger(&info, NULL, true, 0));
}
END_TEST

START_TEST(the_ledger_counts_only_where_card_and_flags_cannot)
{
    TkTokenInfo flags_exact = info_with_flags(TK_PIN_OK, TK_PIN_FINAL_TRY);
    TkTokenInfo flags_silent = info_with_flags(TK_PIN_OK, TK_PIN_OK);
    TkCardRetries puk_known = {.user = 3, .so = -1, .puk = 7};
    TkCardRetries puk_unknown = {.user = 3, .so = 2, .puk = -1};

    /* A card whose PUK counter is read needs no ledger; one whose is not does. */
    ck_assert(!tk_retries_so_from_ledger(&flags_silent, &puk_known, true, 10));
    ck_assert(tk_retries_so_from_ledger(&flags_silent, &puk_unknown, true, 10));
    ck_assert(tk_retries_so_from_ledger(&flags_silent, NULL, true, 3));
    /* The SO flags describe the SO PIN, never the PUK. */
    ck_assert(tk_retries_so_from_ledger(&flags_exact, NULL, true, 3));
    /* Without a PUK the exact flags or the card's SO counter stand. */
    ck_assert(!tk_retries_so_from_ledger(&flags_exact, NULL, false, 3));
    ck_assert(!tk_retries_so_from_ledger(&flags_silent, &puk_unknown, false, 3));
    /* Without a start value no count of failures says how many tries are left. */
    ck_assert(!tk_retries_so_from_ledger(&flags_silent, NULL, true, 0));
    ck_assert(!tk_retries_so_from_ledger(&flags_silent, NULL, false, 0));

    /* Where it holds, the ledger's count is what is applied. */
    tk_token_info_apply_retries(&flags_silent, &puk_unknown, true, 4, 10);
    ck_assert_int_eq(flags_silent.puk_retries, 6);
    ck_assert_int_eq(flags_silent.puk_retries_source, TK_RETRIES_LEDGER);
    ck_assert_int_eq(flags_silent.so_pin_retries, 2);
    ck_assert_int_eq(flags_silent.so_pin_retries_source, TK_RETRIES_CARD);
}
END_TEST

static TkTokenInfo info_with_counts(int user, TkRetriesSource user_source, int so,
                                    TkRetriesSource so_source)
{
    return (TkTokenInfo){
        .user_pin_retries = user,
        .user_pin_retries_source = user_source,
        .so_pin_retries = so,
        .so_pin_retries_source = so_source,
    };
}

#define MODULE_MESSAGE "The PIN is incorrect."

/* A module's wrong-PIN error, as tk_pin_incorrect_with_tries() leaves it given info: still a
 * PinIncorrect, whatever its words. */
static TkError reworded(const TkTokenInfo *info, TkSecretSpent spent)
{
    TkError e = {};
    (void)tk_error_set(&e, -ENOLCK, TK_ERROR_PIN_INCORRECT, MODULE_MESSAGE);
    tk_pin_incorrect_with_tries(info, spent, &e);
    ck_assert_str_eq(e.name, TK_ERROR_PIN_INCORRECT);
    return e;
}

START_TEST(wrong_user_pin_says_the_tries_the_card_counts)
{
    TkTokenInfo info = info_with_counts(2, TK_RETRIES_CARD, 3, TK_RETRIES_CARD);
    TkError e = reworded(&info, TK_SPENT_USER_PIN);
    ck_assert_str_eq(e.message, "The user PIN is incorrect: 2 tries left before it locks. Check "
                                "it and try again.");
}
END_TEST

START_TEST(wrong_pin_with_one_try_left_says_try)
{
    TkTokenInfo info = info_with_counts(1, TK_RETRIES_CARD, 1, TK_RETRIES_CARD);
    TkError user = reworded(&info, TK_SPENT_USER_PIN);
    TkError so = reworded(&info, TK_SPENT_SO_PIN);
    ck_assert_str_eq(user.message, "The user PIN is incorrect: 1 try left before it locks. Check "
                                   "it and try again.");
    ck_assert_str_eq(so.message, "The SO PIN is incorrect: 1 try left before it locks. Check it "
                                 "and try again.");
}
END_TEST

START_TEST(wrong_user_pin_that_locks_sends_to_the_helpdesk)
{
    TkTokenInfo info = info_with_counts(0, TK_RETRIES_CARD, 3, TK_RETRIES_CARD);
    TkError e = reworded(&info, TK_SPENT_USER_PIN);
    ck_assert_str_eq(e.message, "The user PIN is incorrect, and it is now locked. Have it "
                                "unblocked at the helpdesk.");
}
END_TEST

START_TEST(wrong_so_pin_or_puk_that_locks_names_no_helpdesk)
{
    TkTokenInfo info = info_with_counts(3, TK_RETRIES_CARD, 0, TK_RETRIES_CARD);
    TkError so = reworded(&info, TK_SPENT_SO_PIN);
    TkError puk = reworded(&info, TK_SPENT_PUK);
    ck_assert_str_eq(so.message, "The SO PIN is incorrect, and it is now locked.");
    ck_assert_str_eq(puk.message, "The PUK is incorrect, and it is now locked.");
}
END_TEST

START_TEST(wrong_puk_says_the_puk_count_not_the_so_pins)
{
    TkTokenInfo info = info_with_counts(3, TK_RETRIES_CARD, 3, TK_RETRIES_CARD);
    info.has_puk = true;
    info.puk_retries = 8;
    info.puk_retries_source = TK_RETRIES_LEDGER;
    TkError puk = reworded(&info, TK_SPENT_PUK);
    TkError so = reworded(&info, TK_SPENT_SO_PIN);
    ck_assert_str_eq(puk.message, "The PUK is incorrect: 8 tries left before it locks (as "
                                  "counted by tokend). Check it and try again.");
    ck_assert_str_eq(so.message, "The SO PIN is incorrect: 3 tries left before it locks. Check it "
                                 "and try again.");
}
END_TEST

START_TEST(wrong_puk_counted_by_the_ledger_says_so)
{
    /* The user side's count does not stand for the PUK. */
    TkTokenInfo info = info_with_counts(3, TK_RETRIES_CARD, 7, TK_RETRIES_LEDGER);
    TkError seven = reworded(&info, TK_SPENT_PUK);
    info.so_pin_retries = 0;
    TkError none = reworded(&info, TK_SPENT_PUK);
    ck_assert_str_eq(seven.message, "The PUK is incorrect: 7 tries left before it locks (as "
                                    "counted by tokend). Check it and try again.");
    ck_assert_str_eq(none.message, "The PUK is incorrect, and it is now locked.");
}
END_TEST

START_TEST(counts_from_the_flags_or_nowhere_leave_the_message)
{
    /* The flags say only "final try" or "locked", which the module's own message covers. */
    TkTokenInfo flags = info_with_counts(1, TK_RETRIES_FLAGS, 0, TK_RETRIES_FLAGS);
    TkTokenInfo unknown = info_with_counts(-1, TK_RETRIES_UNKNOWN, -1, TK_RETRIES_UNKNOWN);
    TkTokenInfo uncounted = info_with_counts(-1, TK_RETRIES_CARD, -1, TK_RETRIES_LEDGER);
    const TkTokenInfo *infos[] = {&flags, &unknown, &uncounted};
    const TkSecretSpent spent[] = {TK_SPENT_USER_PIN, TK_SPENT_SO_PIN, TK_SPENT_PUK};
    for (size_t i = 0; i < ELEMENTSOF(infos); i++)
        for (size_t j = 0; j < ELEMENTSOF(spent); j++) {
            TkError e = reworded(infos[i], spent[j]);
            ck_assert_str_eq(e.message, MODULE_MESSAGE);
        }
}
END_TEST

START_TEST(other_errors_are_left_alone)
{
    TkTokenInfo info = info_with_counts(0, TK_RETRIES_CARD, 0, TK_RETRIES_LEDGER);
    TkError e = {};
    (void)tk_error_set(&e, -EPERM, TK_ERROR_PIN_LOCKED, "The PIN is locked.");
    tk_pin_incorrect_with_tries(&info, TK_SPENT_USER_PIN, &e);
    ck_assert_str_eq(e.name, TK_ERROR_PIN_LOCKED);
    ck_assert_str_eq(e.message, "The PIN is locked.");
    TkError none = {};
    tk_pin_incorrect_with_tries(&info, TK_SPENT_PUK, &none);
    ck_assert(!tk_error_is_set(&none));
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
    tcase_add_test(tc, puk_of_unknown_start_value_is_unknown_whatever_the_ledger_counted);
    tcase_add_test(tc, the_ledger_counts_only_where_card_and_flags_cannot);
    suite_add_tcase(s, tc);

    tc = tcase_create("pin-incorrect");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, wrong_user_pin_says_the_tries_the_card_counts);
    tcase_add_test(tc, wrong_pin_with_one_try_left_says_try);
    tcase_add_test(tc, wrong_user_pin_that_locks_sends_to_the_helpdesk);
    tcase_add_test(tc, wrong_so_pin_or_puk_that_locks_names_no_helpdesk);
    tcase_add_test(tc, wrong_puk_says_the_puk_count_not_the_so_pins);
    tcase_add_test(tc, wrong_puk_counted_by_the_ledger_says_so);
    tcase_add_test(tc, counts_from_the_flags_or_nowhere_leave_the_message);
    tcase_add_test(tc, other_errors_are_left_alone);
    suite_add_tcase(s, tc);
    return s;
}

TK_TEST_MAIN(retries_suite())
