/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "monitor-expect.h"

#include <check.h>
#include <poll.h>
#include <string.h>
#include <time.h>

#include "pcsc-probe.h"

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int monitor_wait_event(TkPcscMonitor *m, TkPcscEvent *ev, unsigned timeout_ms)
{
    uint64_t end = now_ms() + timeout_ms;
    for (;;) {
        int r = tk_pcsc_monitor_next(m, ev);
        if (r != 0)
            return r;
        uint64_t now = now_ms();
        if (now >= end)
            return 0;
        struct pollfd p = {.fd = tk_pcsc_monitor_fd(m), .events = POLLIN};
        ck_assert_int_ge(poll(&p, 1, (int)(end - now)), 0);
    }
}

void monitor_expect_event(TkPcscMonitor *m, TkPcscEventType type, const char *reader)
{
    TkPcscEvent ev;
    int r = monitor_wait_event(m, &ev, 10000);
    ck_assert_msg(r == 1, "no %s event for '%s' (r=%d)", tk_pcsc_event_type_to_string(type),
                  reader ? reader : "", r);
    ck_assert_msg(ev.type == type, "expected %s for '%s', got %s for '%s'",
                  tk_pcsc_event_type_to_string(type), reader ? reader : "",
                  tk_pcsc_event_type_to_string(ev.type), ev.reader);
    if (reader)
        ck_assert_str_eq(ev.reader, reader);
    if (type == TK_PCSC_CARD_INSERTED) {
        /* The simulator's MyEID ATR: historical bytes "MyEID", then the check byte. */
        ck_assert_uint_eq(ev.atr_len, 15);
        ck_assert(memcmp(ev.atr + ev.atr_len - 6, "MyEID", 5) == 0);
    }
}

void monitor_expect_reader_pair(TkPcscMonitor *m, TkPcscEventType type, const char *reader0,
                                const char *reader1)
{
    TkPcscEvent a, b;
    ck_assert_int_eq(monitor_wait_event(m, &a, 10000), 1);
    ck_assert_int_eq(monitor_wait_event(m, &b, 10000), 1);
    ck_assert_int_eq(a.type, type);
    ck_assert_int_eq(b.type, type);
    ck_assert((strcmp(a.reader, reader0) == 0 && strcmp(b.reader, reader1) == 0) ||
              (strcmp(a.reader, reader1) == 0 && strcmp(b.reader, reader0) == 0));
}

void monitor_expect_quiet(TkPcscMonitor *m, unsigned ms)
{
    TkPcscEvent ev;
    int r = monitor_wait_event(m, &ev, ms);
    ck_assert_msg(r == 0, "unexpected %s for '%s'", tk_pcsc_event_type_to_string(ev.type),
                  ev.reader);
}
