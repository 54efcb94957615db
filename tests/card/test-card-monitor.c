/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libtoken's PC/SC monitor watching two simulated MyEID cards come and go, run under the test
 * harness with both cards out at the start: each insertion and removal is reported once, for
 * its own reader, in the order it happened. */
#include <check.h>

#include "monitor-expect.h"
#include "sim-control.h"
#include "tk-test.h"

static TkPcscMonitor *monitor;

static const char *reader(unsigned n)
{
    return sim_env(n == 0 ? "TOKEND_SIM_READER_0" : "TOKEND_SIM_READER_1");
}

static void control(unsigned n, const char *command)
{
    char reply[128];
    ck_assert_msg(sim_control(n, command, reply, sizeof(reply)) == 0, "card %u %s: %s", n, command,
                  reply);
}

static void setup(void)
{
    TkError error = {};
    ck_assert_msg(tk_pcsc_monitor_start(&monitor, &error) == 0, "%s", error.message);
}

static void teardown(void)
{
    monitor = tk_pcsc_monitor_stop(monitor);
}

START_TEST(cards_inserted_and_removed_are_reported_in_order)
{
    monitor_expect_reader_pair(monitor, TK_PCSC_READER_ADDED, reader(0), reader(1));
    monitor_expect_quiet(monitor, 500);

    control(0, "insert");
    monitor_expect_event(monitor, TK_PCSC_CARD_INSERTED, reader(0));
    control(1, "insert");
    monitor_expect_event(monitor, TK_PCSC_CARD_INSERTED, reader(1));
    control(0, "remove");
    monitor_expect_event(monitor, TK_PCSC_CARD_REMOVED, reader(0));
    control(0, "insert");
    monitor_expect_event(monitor, TK_PCSC_CARD_INSERTED, reader(0));
    control(1, "remove");
    monitor_expect_event(monitor, TK_PCSC_CARD_REMOVED, reader(1));
    monitor_expect_quiet(monitor, 1000);
}
END_TEST

START_TEST(a_card_already_in_is_reported_at_start)
{
    /* The previous test left card 0 in. */
    monitor_expect_reader_pair(monitor, TK_PCSC_READER_ADDED, reader(0), reader(1));
    monitor_expect_event(monitor, TK_PCSC_CARD_INSERTED, reader(0));
    monitor_expect_quiet(monitor, 500);
}
END_TEST

static Suite *monitor_suite(void)
{
    Suite *s = suite_create("card-monitor");
    TCase *tc = tcase_create("monitor");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, cards_inserted_and_removed_are_reported_in_order);
    tcase_add_test(tc, a_card_already_in_is_reported_at_start);
    suite_add_tcase(s, tc);
    return s;
}

static const char *no_harness(void)
{
    return sim_env("TOKEND_SIM_CONTROL_1") ? NULL : "not run under tests/harness/tokend-test-env";
}

TK_TEST_MAIN_UNLESS(no_harness, monitor_suite())
