/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The operation table's rules that need no bus: the final-try guard and what the rows say of
 * secrets and actions. (test_operation_table.py holds the table against the introspection XML
 * and the shipped polkit policy.) */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "guard.h"
#include "macro.h"
#include "operations.h"
#include "tk-test.h"

static TkTokenInfo info_with(TkPinState user, TkPinState so)
{
    return (TkTokenInfo){.user_pin_state = user, .so_pin_state = so};
}

START_TEST(a_read_never_spends_the_user_pins_final_try_even_with_force)
{
    const Operation *login = operation_find("ListObjects", "login");
    TkTokenInfo info = info_with(TK_PIN_FINAL_TRY, TK_PIN_OK);
    TkError e = {};
    ck_assert_int_eq(guard_check(login, &info, true, false, &e), -EDQUOT);
    ck_assert_str_eq(e.name, TK_ERROR_PIN_FINAL_TRY);
    ck_assert_int_eq(guard_check(operation_find("CreateRequest", NULL), &info, true, false, &e),
                     -EDQUOT);
    /* Listing without a PIN presents nothing. */
    ck_assert_int_eq(guard_check(operation_find("ListObjects", NULL), &info, false, false, &e), 0);
}
END_TEST

START_TEST(a_change_spends_the_user_pins_final_try_only_with_force)
{
    const Operation *keygen = operation_find("GenerateKeyPair", NULL);
    TkTokenInfo info = info_with(TK_PIN_FINAL_TRY, TK_PIN_OK);
    TkError e = {};
    ck_assert_int_eq(guard_check(keygen, &info, false, false, &e), -EDQUOT);
    ck_assert_ptr_nonnull(strstr(e.message, "force"));
    ck_assert_int_eq(guard_check(keygen, &info, true, false, NULL), 0);
    info.user_pin_state = TK_PIN_COUNT_LOW;
    ck_assert_int_eq(guard_check(keygen, &info, false, false, NULL), 0);
}
END_TEST

START_TEST(every_so_pin_presentation_has_the_final_try_guard)
{
    TkTokenInfo info = info_with(TK_PIN_OK, TK_PIN_FINAL_TRY);
    info.has_puk = true;
    info.puk_state = TK_PIN_FINAL_TRY;
    size_t seen = 0;
    for (size_t i = 0; i < n_operations; i++) {
        const Operation *op = &operations[i];
        TkError e = {};
        if (op->presents != SECRET_SO_PIN)
            continue;
        seen++;
        ck_assert_msg(guard_check(op, &info, false, true, &e) == -EDEADLK, "%s", op->name);
        ck_assert_str_eq(e.name, TK_ERROR_SO_PIN_FINAL_TRY);
        /* An unblock spends the PUK; changing the SO PIN or initialising spends the SO PIN. */
        ck_assert_ptr_nonnull(strstr(e.message, op->ledger == LEDGER_JUDGED ? "PUK" : "SO PIN"));
        ck_assert_msg(op->options & OPT(OPTION_FORCE), "%s takes no force", op->name);
        ck_assert_int_eq(guard_check(op, &info, true, false, NULL), 0);
    }
    /* change-so-pin, unblock-pin, initialize */
    ck_assert_uint_eq(seen, 3);
}
END_TEST

START_TEST(the_puk_and_the_so_pin_are_guarded_apart)
{
    TkTokenInfo info = info_with(TK_PIN_OK, TK_PIN_OK);
    info.has_puk = true;
    info.puk_state = TK_PIN_FINAL_TRY;
    TkError e = {};
    ck_assert_int_eq(guard_check(operation_find("ChangePin", "so"), &info, false, true, NULL), 0);
    ck_assert_int_eq(guard_check(operation_find("UnblockPin", NULL), &info, false, true, &e),
                     -EDEADLK);
    ck_assert_ptr_nonnull(strstr(e.message, "PUK"));

    info.puk_state = TK_PIN_OK;
    info.so_pin_state = TK_PIN_LOCKED;
    ck_assert_int_eq(guard_check(operation_find("UnblockPin", NULL), &info, false, true, NULL), 0);
    ck_assert_int_eq(guard_check(operation_find("ChangePin", "so"), &info, true, true, NULL),
                     -EPERM);
}
END_TEST

START_TEST(a_locked_secret_is_not_tried)
{
    TkTokenInfo info = info_with(TK_PIN_LOCKED, TK_PIN_LOCKED);
    TkError e = {};
    ck_assert_int_eq(guard_check(operation_find("ChangePin", "user"), &info, true, false, &e),
                     -EPERM);
    ck_assert_str_eq(e.name, TK_ERROR_PIN_LOCKED);
    ck_assert_int_eq(guard_check(operation_find("UnblockPin", NULL), &info, true, false, &e),
                     -EPERM);
    ck_assert_ptr_nonnull(strstr(e.message, "SO PIN"));
}
END_TEST

START_TEST(every_row_that_presents_a_secret_is_guarded_by_an_action)
{
    for (size_t i = 0; i < n_operations; i++) {
        const Operation *op = &operations[i];
        if (op->presents != SECRET_NONE || op->changes_token)
            ck_assert_msg(op->action, "%s/%s needs a polkit action", op->member,
                          strempty(op->variant));
        ck_assert_ptr_nonnull(op->name);
        ck_assert_ptr_nonnull(op->what);
        ck_assert_msg((op->required & ~op->options) == 0, "%s requires what it does not take",
                      op->name);
        ck_assert_msg(!(op->reads && op->changes_token), "%s", op->name);
    }
    /* The kiosk's action never reaches the SO PIN. */
    ck_assert_str_eq(operation_find("ChangePin", "user")->action, "org.tokend.change-pin");
    ck_assert_str_ne(operation_find("ChangePin", "so")->action, "org.tokend.change-pin");
    ck_assert_str_eq(operation_find("ListObjects", "login")->action, "org.tokend.login");
    ck_assert_ptr_null(operation_find("ListObjects", NULL)->action);
    ck_assert_ptr_null(operation_find("ChangePin", "puk-of-someone-else"));
    ck_assert_ptr_null(operation_find("FormatEverything", NULL));
}
END_TEST

START_TEST(the_ledger_counts_what_the_puk_said_and_what_may_have_spent_a_try)
{
    const Operation *unblock = operation_find("UnblockPin", NULL);
    const Operation *init = operation_find("Initialize", NULL);
    TkLedgerOutcome o = TK_LEDGER_FAILED;

    ck_assert(operation_ledger_outcome(unblock, NULL, &o) && o == TK_LEDGER_SUCCESS);
    ck_assert(operation_ledger_outcome(unblock, TK_ERROR_PIN_INCORRECT, &o) &&
              o == TK_LEDGER_FAILED);
    /* Refused before the card was asked: nothing to count. */
    ck_assert(!operation_ledger_outcome(unblock, TK_ERROR_PIN_LOCKED, &o));
    ck_assert(!operation_ledger_outcome(unblock, TK_ERROR_SO_PIN_FINAL_TRY, &o));
    ck_assert(!operation_ledger_outcome(unblock, TK_ERROR_BUSY, &o));
    ck_assert(!operation_ledger_outcome(unblock, TK_ERROR_INVALID_ARGUMENT, &o));
    /* The card's answer lost (token gone, worker failed, time limit): it may have spent a try,
     * which the guard reckons with apart from the card's refusals. */
    ck_assert(operation_ledger_outcome(unblock, TK_ERROR_TOKEN_REMOVED, &o) &&
              o == TK_LEDGER_UNKNOWN);
    ck_assert(operation_ledger_outcome(unblock, TK_ERROR_FAILED, &o) && o == TK_LEDGER_UNKNOWN);
    ck_assert(operation_ledger_outcome(unblock, TK_ERROR_TIMEOUT, &o) && o == TK_LEDGER_UNKNOWN);
    /* Fresh counters after an initialisation; its wrong SO PIN is never the PUK. */
    ck_assert(operation_ledger_outcome(init, NULL, &o) && o == TK_LEDGER_SUCCESS);
    ck_assert(!operation_ledger_outcome(init, TK_ERROR_PIN_INCORRECT, &o));

    for (size_t i = 0; i < n_operations; i++) {
        const Operation *op = &operations[i];
        if (op == unblock || op == init)
            continue;
        ck_assert_msg(!operation_ledger_outcome(op, NULL, &o), "%s", op->name);
        ck_assert_msg(!operation_ledger_outcome(op, TK_ERROR_PIN_INCORRECT, &o), "%s", op->name);
        ck_assert_msg(op->ledger == LEDGER_NONE, "%s", op->name);
    }
}
END_TEST

START_TEST(every_option_bit_has_a_spec_with_limits)
{
    for (int id = 0; id < _OPTION_MAX; id++) {
        const OptionSpec *spec = option_spec(id);
        ck_assert_ptr_nonnull(spec);
        OptionId back;
        ck_assert_ptr_eq(option_spec_by_name(spec->name, &back), spec);
        ck_assert_int_eq(back, id);
        if (spec->kind != OPTION_KIND_BOOLEAN)
            ck_assert_msg(spec->max_len > 0, "%s has no bound", spec->name);
        if (spec->kind == OPTION_KIND_TEXTS || spec->kind == OPTION_KIND_BLOBS)
            ck_assert_msg(spec->max_items > 0, "%s has no bound", spec->name);
    }
    ck_assert_uint_eq(option_spec(OPTION_REQUEST)->max_len, 64);
    ck_assert_ptr_null(option_spec_by_name("bogus", NULL));
}
END_TEST

START_TEST(every_row_has_a_limit_and_a_ceiling_only_shortens_it)
{
    for (size_t i = 0; i < n_operations; i++) {
        const Operation *op = &operations[i];
        ck_assert_msg(op->timeout_sec >= 30 && op->timeout_sec <= 900, "%s: %u s", op->name,
                      op->timeout_sec);
        ck_assert_uint_eq(operation_timeout_usec(op, 0), op->timeout_sec * 1000000ull);
        ck_assert_uint_eq(operation_timeout_usec(op, 2000000), 2000000);
        ck_assert_uint_eq(operation_timeout_usec(op, 3600 * 1000000ull),
                          op->timeout_sec * 1000000ull);
        /* A member's limit is that of its longest variant. */
        ck_assert_uint_ge(operation_member_timeout_usec(op->member, 0),
                          operation_timeout_usec(op, 0));
    }
    /* Key generation covers RSA-4096 on a slow card; a PIN change is a few commands. */
    ck_assert_uint_eq(operation_find("GenerateKeyPair", NULL)->timeout_sec, 600);
    ck_assert_uint_eq(operation_find("ChangePin", "user")->timeout_sec, 60);
    ck_assert_uint_eq(operation_member_timeout_usec("Bogus", 0), 0);
}
END_TEST

static Suite *operations_suite(void)
{
    Suite *s = suite_create("operations");
    TCase *tc = tcase_create("table");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, a_read_never_spends_the_user_pins_final_try_even_with_force);
    tcase_add_test(tc, a_change_spends_the_user_pins_final_try_only_with_force);
    tcase_add_test(tc, every_so_pin_presentation_has_the_final_try_guard);
    tcase_add_test(tc, the_puk_and_the_so_pin_are_guarded_apart);
    tcase_add_test(tc, a_locked_secret_is_not_tried);
    tcase_add_test(tc, every_row_that_presents_a_secret_is_guarded_by_an_action);
    tcase_add_test(tc, the_ledger_counts_what_the_puk_said_and_what_may_have_spent_a_try);
    tcase_add_test(tc, every_option_bit_has_a_spec_with_limits);
    tcase_add_test(tc, every_row_has_a_limit_and_a_ceiling_only_shortens_it);
    suite_add_tcase(s, tc);
    return s;
}

TK_TEST_MAIN(operations_suite())
