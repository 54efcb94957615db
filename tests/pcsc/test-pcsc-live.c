/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pcsc-error.h"
#include "pcsc-fixture.h"
#include "pcsc-monitor.h"
#include "pcsc-probe.h"
#include "pcsc-readers.h"
#include "monitor-expect.h"
#include "tk-test.h"

#define READER0 "Virtual PCD 00 00"
#define READER1 "Virtual PCD 00 01"

static PcscFixture fx;
static MiniCard card;

static void cleanup_at_exit(void)
{
    pcsc_fixture_cleanup(&fx);
}

static void setup(void)
{
    static bool registered = false;
    if (!registered) {
        atexit(cleanup_at_exit);
        registered = true;
    }
    int r = pcsc_fixture_start(&fx);
    /* main() skipped the program where pcscd or vpcd is missing: here it is a failure. */
    ck_assert_msg(r == 0, "private pcscd could not be started (%d)", r);
    mini_card_init(&card, fx.port);
}

static void teardown(void)
{
    mini_card_remove(&card);
    pcsc_fixture_done(&fx);
}

static void expect_reader_pair(TkPcscMonitor *m, TkPcscEventType type)
{
    monitor_expect_reader_pair(m, type, READER0, READER1);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool reader_has_card(const char *name)
{
    TkReaderInfo *r = NULL;
    size_t n = 0;
    bool present = false;
    if (tk_pcsc_list_readers(&r, &n, NULL) < 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (streq(r[i].name, name))
            present = r[i].card_present;
    tk_reader_info_array_free(r, n);
    return present;
}

static void wait_card_state(const char *name, bool present)
{
    for (int i = 0; i < 100 && reader_has_card(name) != present; i++)
        usleep(50000);
    ck_assert(reader_has_card(name) == present);
}

START_TEST(readers_listed_with_card_presence_and_atr)
{
    TkReaderInfo *r = NULL;
    size_t n = 0;
    TkError e = {};
    ck_assert_int_eq(tk_pcsc_list_readers(&r, &n, &e), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(r[0].name, READER0);
    ck_assert_str_eq(r[1].name, READER1);
    ck_assert(!r[0].card_present && !r[1].card_present);
    tk_reader_info_array_free(r, n);

    ck_assert_int_eq(mini_card_insert(&card), 0);
    wait_card_state(READER0, true);
    ck_assert_int_eq(tk_pcsc_list_readers(&r, &n, &e), 0);
    ck_assert(r[0].card_present);
    ck_assert_uint_eq(r[0].atr_len, card.atr_len);
    ck_assert(memcmp(r[0].atr, card.atr, card.atr_len) == 0);
    ck_assert(!r[1].card_present);
    tk_reader_info_array_free(r, n);
}
END_TEST

START_TEST(readers_without_pcscd_say_it_is_not_running)
{
    ck_assert_int_eq(pcsc_fixture_stop_pcscd(&fx), 0);
    TkReaderInfo *r = NULL;
    size_t n = 0;
    TkError e = {};
    ck_assert_int_eq(tk_pcsc_list_readers(&r, &n, &e), -ECONNREFUSED);
    ck_assert_ptr_nonnull(strstr(e.message, "pcscd"));
}
END_TEST

START_TEST(monitor_sees_readers_card_insert_remove_and_pcscd_restart)
{
    TkPcscMonitor *m = NULL;
    TkError e = {};
    ck_assert_int_eq(tk_pcsc_monitor_start(&m, &e), 0);

    expect_reader_pair(m, TK_PCSC_READER_ADDED);
    monitor_expect_quiet(m, 300);

    ck_assert_int_eq(mini_card_insert(&card), 0);
    monitor_expect_event(m, TK_PCSC_CARD_INSERTED, READER0);

    mini_card_remove(&card);
    monitor_expect_event(m, TK_PCSC_CARD_REMOVED, READER0);

    ck_assert_int_eq(pcsc_fixture_restart_pcscd(&fx), 0);
    monitor_expect_event(m, TK_PCSC_SERVICE_LOST, NULL);
    expect_reader_pair(m, TK_PCSC_READER_REMOVED);
    monitor_expect_event(m, TK_PCSC_SERVICE_BACK, NULL);
    expect_reader_pair(m, TK_PCSC_READER_ADDED);

    /* And it still follows cards on the new pcscd. */
    ck_assert_int_eq(mini_card_insert(&card), 0);
    monitor_expect_event(m, TK_PCSC_CARD_INSERTED, READER0);
    monitor_expect_quiet(m, 500);

    m = tk_pcsc_monitor_stop(m);
    ck_assert_ptr_null(m);
}
END_TEST

START_TEST(monitor_reports_card_already_present_at_start)
{
    ck_assert_int_eq(mini_card_insert(&card), 0);
    wait_card_state(READER0, true);

    TkPcscMonitor *m = NULL;
    ck_assert_int_eq(tk_pcsc_monitor_start(&m, NULL), 0);
    expect_reader_pair(m, TK_PCSC_READER_ADDED);
    monitor_expect_event(m, TK_PCSC_CARD_INSERTED, READER0);
    monitor_expect_quiet(m, 500);

    /* Service lost with a card in: the card goes with its reader. */
    ck_assert_int_eq(pcsc_fixture_stop_pcscd(&fx), 0);
    monitor_expect_event(m, TK_PCSC_SERVICE_LOST, NULL);
    TkPcscEvent ev;
    bool card_removed = false;
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(monitor_wait_event(m, &ev, 5000), 1);
        if (ev.type == TK_PCSC_CARD_REMOVED)
            card_removed = streq(ev.reader, READER0);
        else
            ck_assert_int_eq(ev.type, TK_PCSC_READER_REMOVED);
    }
    ck_assert(card_removed);
    /* Reconnect attempts while pcscd is away are quiet. */
    monitor_expect_quiet(m, 2500);
    tk_pcsc_monitor_stop(m);
}
END_TEST

START_TEST(monitor_started_without_pcscd_reports_its_arrival)
{
    ck_assert_int_eq(pcsc_fixture_stop_pcscd(&fx), 0);

    TkPcscMonitor *m = NULL;
    ck_assert_int_eq(tk_pcsc_monitor_start(&m, NULL), 0);
    monitor_expect_event(m, TK_PCSC_SERVICE_LOST, NULL);
    monitor_expect_quiet(m, 1500);

    ck_assert_int_eq(pcsc_fixture_restart_pcscd(&fx), 0);
    monitor_expect_event(m, TK_PCSC_SERVICE_BACK, NULL);
    expect_reader_pair(m, TK_PCSC_READER_ADDED);
    tk_pcsc_monitor_stop(m);
}
END_TEST

START_TEST(monitor_stops_promptly)
{
    TkPcscMonitor *m = NULL;
    ck_assert_int_eq(tk_pcsc_monitor_start(&m, NULL), 0);
    expect_reader_pair(m, TK_PCSC_READER_ADDED);
    uint64_t t0 = now_ms();
    tk_pcsc_monitor_stop(m);
    ck_assert_uint_lt(now_ms() - t0, 1000);

    /* Stopping right after starting, before the thread has settled, must not hang either. */
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(tk_pcsc_monitor_start(&m, NULL), 0);
        tk_pcsc_monitor_stop(m);
    }
}
END_TEST

static void send_verify(const char *reader, uint8_t ref, const char *pin, uint8_t *sw1,
                        uint8_t *sw2)
{
    SCARDCONTEXT ctx;
    SCARDHANDLE h;
    DWORD proto;
    ck_assert_int_eq(SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx), SCARD_S_SUCCESS);
    ck_assert_int_eq(SCardConnect(ctx, reader, SCARD_SHARE_SHARED,
                                  SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &h, &proto),
                     SCARD_S_SUCCESS);
    uint8_t apdu[32] = {0x00, 0x20, 0x00, ref, (uint8_t)strlen(pin)};
    memcpy(apdu + 5, pin, strlen(pin));
    uint8_t resp[8];
    DWORD len = sizeof(resp);
    ck_assert_int_eq(SCardTransmit(h, proto == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1,
                                   apdu, 5 + strlen(pin), NULL, resp, &len),
                     SCARD_S_SUCCESS);
    ck_assert_uint_eq(len, 2);
    *sw1 = resp[0];
    *sw2 = resp[1];
    SCardDisconnect(h, SCARD_LEAVE_CARD);
    SCardReleaseContext(ctx);
}

START_TEST(probe_reads_user_tries_without_spending_them)
{
    ck_assert_int_eq(mini_card_insert(&card), 0);
    wait_card_state(READER0, true);

    int user, so, puk;
    TkError e = {};
    ck_assert_int_eq(tk_pcsc_probe_retries(READER0, &user, &so, &puk, &e), 0);
    ck_assert_int_eq(user, 3);
    ck_assert_int_eq(so, 3);
    ck_assert_int_eq(puk, -1);

    uint8_t sw1, sw2;
    send_verify(READER0, 1, "000000", &sw1, &sw2);
    ck_assert(sw1 == 0x63 && sw2 == 0xC2);
    send_verify(READER0, 1, "111111", &sw1, &sw2);
    ck_assert(sw1 == 0x63 && sw2 == 0xC1);

    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(tk_pcsc_probe_retries(READER0, &user, &so, &puk, &e), 0);
        ck_assert_int_eq(user, 1);
        ck_assert_int_eq(so, 3);
        ck_assert_int_eq(puk, -1);
    }
    /* The card agrees: probing spent nothing, and it did ask with VERIFY without data. */
    ck_assert_int_eq(card.tries[1], 1);
    ck_assert_uint_eq(card.verify_empty_count, 6);

    /* The right PIN still works on its final try. */
    send_verify(READER0, 1, "123456", &sw1, &sw2);
    ck_assert(sw1 == 0x90 && sw2 == 0x00);
}
END_TEST

START_TEST(probe_reports_blocked_pin_as_zero)
{
    ck_assert_int_eq(mini_card_insert(&card), 0);
    wait_card_state(READER0, true);
    uint8_t sw1, sw2;
    for (int i = 0; i < 3; i++)
        send_verify(READER0, 3, "00000000", &sw1, &sw2);
    ck_assert(sw1 == 0x69 && sw2 == 0x83);

    int user, so, puk;
    ck_assert_int_eq(tk_pcsc_probe_retries(READER0, &user, &so, &puk, NULL), 0);
    ck_assert_int_eq(user, 3);
    ck_assert_int_eq(so, 0);
}
END_TEST

START_TEST(probe_on_empty_reader_is_token_removed)
{
    int user, so, puk;
    TkError e = {};
    ck_assert_int_eq(tk_pcsc_probe_retries(READER1, &user, &so, &puk, &e), -ENODEV);
    ck_assert_str_eq(e.name, TK_ERROR_TOKEN_REMOVED);
}
END_TEST

START_TEST(probe_reads_a_myeid_of_another_atr)
{
    /* An independent MyEID implementation's ATR: the card is known by what it answers. */
    static const uint8_t oseid_atr[] = {0x3B, 0xF5, 0x18, 0x00, 0x02, 0x80, 0x01,
                                        0x4F, 0x73, 0x45, 0x49, 0x44, 0x1A};
    card.atr = oseid_atr;
    card.atr_len = sizeof(oseid_atr);
    card.tries[1] = 2;
    ck_assert_int_eq(mini_card_insert(&card), 0);
    wait_card_state(READER0, true);

    int user = 7, so = 7, puk = 7;
    TkError e = {};
    ck_assert_int_eq(tk_pcsc_probe_retries(READER0, &user, &so, &puk, &e), 0);
    ck_assert_int_eq(user, 2);
    ck_assert_int_eq(so, 3);
    ck_assert_int_eq(puk, -1);
}
END_TEST

START_TEST(probe_declines_unknown_card)
{
    /* A PKCS#15 card that is not a MyEID, with a MyEID's ATR even: the caller must fall back to
     * flags and the ledger. */
    card.no_card_data = true;
    ck_assert_int_eq(mini_card_insert(&card), 0);
    wait_card_state(READER0, true);

    int user = 7, so = 7, puk = 7;
    TkError e = {};
    ck_assert_int_eq(tk_pcsc_probe_retries(READER0, &user, &so, &puk, &e), -EOPNOTSUPP);
    ck_assert_str_eq(e.name, TK_ERROR_UNSUPPORTED);
    ck_assert_int_eq(user, 7);
    ck_assert_uint_eq(card.verify_empty_count, 0);
}
END_TEST

static Suite *live_suite(void)
{
    Suite *s = suite_create("pcsc-live");
    TCase *tc = tcase_create("readers");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, readers_listed_with_card_presence_and_atr);
    tcase_add_test(tc, readers_without_pcscd_say_it_is_not_running);
    suite_add_tcase(s, tc);

    tc = tcase_create("monitor");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, monitor_sees_readers_card_insert_remove_and_pcscd_restart);
    tcase_add_test(tc, monitor_reports_card_already_present_at_start);
    tcase_add_test(tc, monitor_started_without_pcscd_reports_its_arrival);
    tcase_add_test(tc, monitor_stops_promptly);
    suite_add_tcase(s, tc);

    tc = tcase_create("probe");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, probe_reads_user_tries_without_spending_them);
    tcase_add_test(tc, probe_reports_blocked_pin_as_zero);
    tcase_add_test(tc, probe_on_empty_reader_is_token_removed);
    tcase_add_test(tc, probe_reads_a_myeid_of_another_atr);
    tcase_add_test(tc, probe_declines_unknown_card);
    suite_add_tcase(s, tc);
    return s;
}

TK_TEST_MAIN_UNLESS(pcsc_fixture_unavailable, live_suite())
