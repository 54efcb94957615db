/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>

#include "pcsc-error.h"
#include "pcsc-probe.h"
#include "tk-test.h"

START_TEST(pcsc_error_no_service_says_pcscd_is_not_running)
{
    TkError e = {};
    ck_assert_int_eq(tk_pcsc_error_set(&e, SCARD_E_NO_SERVICE, "listing readers"), -ECONNREFUSED);
    ck_assert_str_eq(e.name, TK_ERROR_FAILED);
    ck_assert_ptr_nonnull(strstr(e.message, "The PC/SC service (pcscd) is not running"));
    ck_assert_ptr_nonnull(strstr(e.message, "listing readers"));
}
END_TEST

START_TEST(pcsc_error_card_gone_is_token_removed)
{
    ck_assert_int_eq(tk_pcsc_error_to_errno(SCARD_W_REMOVED_CARD), -ENODEV);
    ck_assert_str_eq(tk_pcsc_error_to_name(SCARD_W_REMOVED_CARD), TK_ERROR_TOKEN_REMOVED);
    ck_assert_int_eq(tk_pcsc_error_to_errno(SCARD_E_NO_SMARTCARD), -ENODEV);
    ck_assert_str_eq(tk_pcsc_error_to_name(SCARD_E_NO_SMARTCARD), TK_ERROR_TOKEN_REMOVED);
    /* The generic table agrees on what -ENODEV means on the bus. */
    ck_assert_str_eq(tk_error_errno_to_name(-ENODEV), TK_ERROR_TOKEN_REMOVED);
}
END_TEST

START_TEST(pcsc_error_pin_codes_match_the_project_convention)
{
    ck_assert_int_eq(tk_pcsc_error_to_errno(SCARD_W_WRONG_CHV), -ENOLCK);
    ck_assert_str_eq(tk_pcsc_error_to_name(SCARD_W_WRONG_CHV), TK_ERROR_PIN_INCORRECT);
    ck_assert_int_eq(tk_pcsc_error_to_errno(SCARD_W_CHV_BLOCKED), -EPERM);
    ck_assert_str_eq(tk_pcsc_error_to_name(SCARD_W_CHV_BLOCKED), TK_ERROR_PIN_LOCKED);
}
END_TEST

START_TEST(pcsc_error_success_leaves_error_untouched)
{
    TkError e = {};
    ck_assert_int_eq(tk_pcsc_error_set(&e, SCARD_S_SUCCESS, "x"), 0);
    ck_assert(!tk_error_is_set(&e));
    ck_assert_int_eq(tk_pcsc_error_to_errno(SCARD_S_SUCCESS), 0);
    ck_assert_ptr_null(tk_pcsc_error_to_name(SCARD_S_SUCCESS));
}
END_TEST

START_TEST(pcsc_error_unknown_code_is_failed_eio_with_code_in_message)
{
    TkError e = {};
    ck_assert_int_eq(tk_pcsc_error_set(&e, (LONG)0x8010ABCD, "probing"), -EIO);
    ck_assert_str_eq(e.name, TK_ERROR_FAILED);
    ck_assert_ptr_nonnull(strstr(e.message, "8010ABCD"));
}
END_TEST

START_TEST(pcsc_error_service_gone_codes)
{
    ck_assert(tk_pcsc_error_is_service_gone(SCARD_E_NO_SERVICE));
    ck_assert(tk_pcsc_error_is_service_gone(SCARD_E_SERVICE_STOPPED));
    ck_assert(tk_pcsc_error_is_service_gone(SCARD_E_INVALID_HANDLE));
    ck_assert(!tk_pcsc_error_is_service_gone(SCARD_E_TIMEOUT));
    ck_assert(!tk_pcsc_error_is_service_gone(SCARD_W_REMOVED_CARD));
}
END_TEST

START_TEST(pcsc_error_every_mapped_name_is_a_bus_error)
{
    static const LONG codes[] = {
        SCARD_E_NO_SERVICE,        SCARD_E_SERVICE_STOPPED, SCARD_E_NO_READERS_AVAILABLE,
        SCARD_E_UNKNOWN_READER,    SCARD_W_REMOVED_CARD,    SCARD_E_NO_SMARTCARD,
        SCARD_E_SHARING_VIOLATION, SCARD_E_TIMEOUT,         SCARD_W_UNRESPONSIVE_CARD,
        SCARD_E_CANCELLED,         SCARD_F_COMM_ERROR,      (LONG)0x80100FFF,
    };
    for (size_t i = 0; i < ELEMENTSOF(codes); i++) {
        int err = tk_pcsc_error_to_errno(codes[i]);
        ck_assert_int_lt(err, 0);
        ck_assert_int_ne(tk_error_name_to_errno(tk_pcsc_error_to_name(codes[i])), 0);
    }
}
END_TEST

START_TEST(verify_status_words_to_tries)
{
    ck_assert_int_eq(tk_pcsc_verify_status_to_tries(0x63, 0xC3, 3), 3);
    ck_assert_int_eq(tk_pcsc_verify_status_to_tries(0x63, 0xC1, 3), 1);
    ck_assert_int_eq(tk_pcsc_verify_status_to_tries(0x63, 0xC0, 3), 0);
    ck_assert_int_eq(tk_pcsc_verify_status_to_tries(0x69, 0x83, 3), 0);
    ck_assert_int_eq(tk_pcsc_verify_status_to_tries(0x90, 0x00, 3), 3);
    ck_assert_int_eq(tk_pcsc_verify_status_to_tries(0x90, 0x00, 0), -1);
    ck_assert_int_eq(tk_pcsc_verify_status_to_tries(0x6A, 0x88, 3), -1);
    ck_assert_int_eq(tk_pcsc_verify_status_to_tries(0x63, 0x00, 3), -1);
}
END_TEST

START_TEST(probe_knows_myeid_atrs_only)
{
    static const uint8_t myeid[] = {0x3B, 0xF5, 0x18, 0x00, 0x00, 0x81, 0x31, 0xFE,
                                    0x45, 0x4D, 0x79, 0x45, 0x49, 0x44, 0x9A};
    static const uint8_t other[] = {0x3B, 0xF8, 0x13, 0x00, 0x00, 0x81, 0x31, 0xFE,
                                    0x15, 0x59, 0x75, 0x62, 0x69, 0x6B, 0x65, 0x79};
    ck_assert(tk_pcsc_probe_known_atr(myeid, sizeof(myeid)));
    ck_assert(!tk_pcsc_probe_known_atr(myeid, sizeof(myeid) - 1));
    ck_assert(!tk_pcsc_probe_known_atr(other, sizeof(other)));
}
END_TEST

static Suite *pcsc_error_suite(void)
{
    Suite *s = suite_create("pcsc-error");
    TCase *tc = tcase_create("mapping");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, pcsc_error_no_service_says_pcscd_is_not_running);
    tcase_add_test(tc, pcsc_error_card_gone_is_token_removed);
    tcase_add_test(tc, pcsc_error_pin_codes_match_the_project_convention);
    tcase_add_test(tc, pcsc_error_success_leaves_error_untouched);
    tcase_add_test(tc, pcsc_error_unknown_code_is_failed_eio_with_code_in_message);
    tcase_add_test(tc, pcsc_error_service_gone_codes);
    tcase_add_test(tc, pcsc_error_every_mapped_name_is_a_bus_error);
    tcase_add_test(tc, verify_status_words_to_tries);
    tcase_add_test(tc, probe_knows_myeid_atrs_only);
    suite_add_tcase(s, tc);
    return s;
}

TK_TEST_MAIN(pcsc_error_suite())
