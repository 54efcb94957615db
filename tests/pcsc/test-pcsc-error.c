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

/* A card as canned answers by instruction: what it says to SELECT, GET DATA 01 A0 and VERIFY
 * of references 1 and 3. Every APDU sent is kept, so a test can check that none carried data
 * that could spend a try or change the card. */
typedef struct CannedCard {
    uint16_t select_sw;
    size_t info_len;
    uint16_t info_sw;
    uint16_t verify_sw[4];
    bool t0;   /* holds the card data back for GET RESPONSE, as over T=0 */
    LONG fail; /* a PC/SC failure for every exchange, or 0 */
    unsigned sent;
    uint8_t ins[8];
    size_t len[8];
} CannedCard;

static LONG canned_transmit(void *userdata, const uint8_t *apdu, size_t apdu_len, uint8_t *resp,
                            size_t *resp_len)
{
    CannedCard *c = userdata;
    ck_assert_uint_ge(apdu_len, 4);
    ck_assert_uint_lt(c->sent, ELEMENTSOF(c->ins));
    c->ins[c->sent] = apdu[1];
    c->len[c->sent++] = apdu_len;
    if (c->fail)
        return c->fail;
    size_t n = 0;
    uint16_t sw = 0x6D00;
    if (apdu[1] == 0xA4)
        sw = c->select_sw;
    else if (apdu[1] == 0xCA && apdu[2] == 0x01 && apdu[3] == 0xA0 && c->t0)
        sw = (uint16_t)(0x6100 | c->info_len);
    else if ((apdu[1] == 0xCA && apdu[2] == 0x01 && apdu[3] == 0xA0) ||
             (apdu[1] == 0xC0 && c->t0 && apdu_len == 5 && apdu[4] == c->info_len)) {
        n = c->info_len;
        memset(resp, 0x45, n);
        sw = c->info_sw;
    } else if (apdu[1] == 0x20 && apdu[3] < ELEMENTSOF(c->verify_sw))
        sw = c->verify_sw[apdu[3]];
    ck_assert_uint_ge(*resp_len, n + 2);
    resp[n] = (uint8_t)(sw >> 8);
    resp[n + 1] = (uint8_t)sw;
    *resp_len = n + 2;
    return SCARD_S_SUCCESS;
}

#define MYEID_CARD                                              \
    (CannedCard)                                                \
    {                                                           \
        .select_sw = 0x9000, .info_len = 20, .info_sw = 0x9000, \
        .verify_sw = {[1] = 0x63C2, [3] = 0x63C3},              \
    }

START_TEST(probe_reads_a_card_that_answers_as_myeid_whatever_its_atr)
{
    CannedCard c = MYEID_CARD;
    int user = -2, so = -2, puk = -2;
    TkError e = {};
    ck_assert_int_eq(tk_pcsc_probe_card(canned_transmit, &c, &user, &so, &puk, &e), 0);
    ck_assert_int_eq(user, 2);
    ck_assert_int_eq(so, 3);
    ck_assert_int_eq(puk, -1);
    /* SELECT, GET DATA, then two VERIFYs of four bytes: no PIN, no try spent. */
    ck_assert_uint_eq(c.sent, 4);
    ck_assert_uint_eq(c.ins[0], 0xA4);
    ck_assert_uint_eq(c.ins[1], 0xCA);
    for (unsigned i = 2; i < 4; i++) {
        ck_assert_uint_eq(c.ins[i], 0x20);
        ck_assert_uint_eq(c.len[i], 4);
    }
}
END_TEST

START_TEST(probe_takes_61xx_to_select_as_selected)
{
    CannedCard c = MYEID_CARD;
    c.select_sw = 0x6120;
    c.verify_sw[1] = 0x9000;
    c.verify_sw[3] = 0x6983;
    int user, so, puk;
    TkError e = {};
    ck_assert_int_eq(tk_pcsc_probe_card(canned_transmit, &c, &user, &so, &puk, &e), 0);
    ck_assert_int_eq(user, 3);
    ck_assert_int_eq(so, 0);
}
END_TEST

START_TEST(probe_fetches_card_data_held_back_over_t0)
{
    CannedCard c = MYEID_CARD;
    c.t0 = true;
    int user, so, puk;
    TkError e = {};
    ck_assert_int_eq(tk_pcsc_probe_card(canned_transmit, &c, &user, &so, &puk, &e), 0);
    ck_assert_int_eq(user, 2);
    ck_assert_uint_eq(c.sent, 5);
    ck_assert_uint_eq(c.ins[2], 0xC0);
}
END_TEST

START_TEST(probe_refuses_a_card_without_the_pkcs15_application)
{
    CannedCard c = MYEID_CARD;
    c.select_sw = 0x6A82;
    int user = -2, so = -2, puk = -2;
    TkError e = {};
    ck_assert_int_eq(tk_pcsc_probe_card(canned_transmit, &c, &user, &so, &puk, &e), -EOPNOTSUPP);
    ck_assert_str_eq(e.name, TK_ERROR_UNSUPPORTED);
    ck_assert_int_eq(user, -2);
    /* Nothing is asked of a card that is not a MyEID after the SELECT. */
    ck_assert_uint_eq(c.sent, 1);
}
END_TEST

START_TEST(probe_refuses_a_pkcs15_card_without_myeid_card_data)
{
    CannedCard c = MYEID_CARD;
    c.info_len = 0;
    c.info_sw = 0x6A88;
    int user, so, puk;
    TkError e = {};
    ck_assert_int_eq(tk_pcsc_probe_card(canned_transmit, &c, &user, &so, &puk, &e), -EOPNOTSUPP);
    ck_assert_uint_eq(c.sent, 2);

    /* Card data of another length is another card's. */
    c = MYEID_CARD;
    c.info_len = 12;
    ck_assert_int_eq(tk_pcsc_probe_card(canned_transmit, &c, &user, &so, &puk, &e), -EOPNOTSUPP);
    ck_assert_uint_eq(c.sent, 2);
}
END_TEST

START_TEST(probe_reports_a_pulled_card_as_token_removed)
{
    CannedCard c = MYEID_CARD;
    c.fail = SCARD_W_REMOVED_CARD;
    int user, so, puk;
    TkError e = {};
    ck_assert_int_eq(tk_pcsc_probe_card(canned_transmit, &c, &user, &so, &puk, &e), -ENODEV);
    ck_assert_str_eq(e.name, TK_ERROR_TOKEN_REMOVED);
}
END_TEST

START_TEST(myeid_answers_decision)
{
    ck_assert(tk_pcsc_myeid_answers(0x9000, 0x9000, 20));
    ck_assert(tk_pcsc_myeid_answers(0x6112, 0x9000, 20));
    ck_assert(!tk_pcsc_myeid_answers(0x6A82, 0x9000, 20));
    ck_assert(!tk_pcsc_myeid_answers(0x9000, 0x6D00, 0));
    ck_assert(!tk_pcsc_myeid_answers(0x9000, 0x9000, 19));
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
    tcase_add_test(tc, probe_reads_a_card_that_answers_as_myeid_whatever_its_atr);
    tcase_add_test(tc, probe_takes_61xx_to_select_as_selected);
    tcase_add_test(tc, probe_fetches_card_data_held_back_over_t0);
    tcase_add_test(tc, probe_refuses_a_card_without_the_pkcs15_application);
    tcase_add_test(tc, probe_refuses_a_pkcs15_card_without_myeid_card_data);
    tcase_add_test(tc, probe_reports_a_pulled_card_as_token_removed);
    tcase_add_test(tc, myeid_answers_decision);
    suite_add_tcase(s, tc);
    return s;
}

TK_TEST_MAIN(pcsc_error_suite())
