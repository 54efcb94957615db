/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

#include "monitor-expect.h"
#include "pcsc-fixture.h"
#include "pcsc-monitor.h"
#include "pcsc-readers.h"
#include "text-escape.h"
#include "tk-test.h"

/* A reader whose driver names it in Latin-1: pcscd passes the bytes on as they are. */
#define FRIENDLY "Lecteur \xe9"
#define READER0  "Lecteur \\xe9 00 00"
#define READER1  "Lecteur \\xe9 00 01"

static PcscFixture fx;

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
    int r = pcsc_fixture_start_named(&fx, FRIENDLY);
    ck_assert_msg(r == 0, "private pcscd could not be started (%d)", r);
}

static void teardown(void)
{
    pcsc_fixture_done(&fx);
}

START_TEST(reader_names_that_are_not_utf8_are_listed_escaped)
{
    TkReaderInfo *r = NULL;
    size_t n = 0;
    TkError e = {};
    ck_assert_int_eq(tk_pcsc_list_readers(&r, &n, &e), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert(streq(r[0].name, READER0) || streq(r[0].name, READER1));
    ck_assert(streq(r[1].name, READER0) || streq(r[1].name, READER1));
    ck_assert_str_ne(r[0].name, r[1].name);
    tk_reader_info_array_free(r, n);
}
END_TEST

START_TEST(monitor_reports_them_escaped_and_still_watches_them)
{
    TkPcscMonitor *m = NULL;
    ck_assert_int_eq(tk_pcsc_monitor_start(&m, NULL), 0);
    monitor_expect_reader_pair(m, TK_PCSC_READER_ADDED, READER0, READER1);

    /* The thread asks pcscd by the names pcscd gave: a card is seen coming and going. */
    MiniCard card;
    mini_card_init(&card, fx.port);
    ck_assert_int_eq(mini_card_insert(&card), 0);
    monitor_expect_event(m, TK_PCSC_CARD_INSERTED, READER0);
    mini_card_remove(&card);
    monitor_expect_event(m, TK_PCSC_CARD_REMOVED, READER0);
    tk_pcsc_monitor_stop(m);
}
END_TEST

static Suite *names_suite(void)
{
    Suite *s = suite_create("pcsc-names");
    TCase *tc = tcase_create("names");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, reader_names_that_are_not_utf8_are_listed_escaped);
    tcase_add_test(tc, monitor_reports_them_escaped_and_still_watches_them);
    suite_add_tcase(s, tc);
    return s;
}

TK_TEST_MAIN_UNLESS(pcsc_fixture_unavailable, names_suite())
