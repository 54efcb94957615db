/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pcsc-monitor.h"

/* Check assertions on what a PC/SC monitor reports, waiting on its fd as an event loop would. */

/* 1 with *ev, 0 on timeout. */
int monitor_wait_event(TkPcscMonitor *m, TkPcscEvent *ev, unsigned timeout_ms);
/* The next event is of this type, for this reader (any reader when NULL); a card insertion
 * carries an ATR of a card we have a probe for. */
void monitor_expect_event(TkPcscMonitor *m, TkPcscEventType type, const char *reader);
/* The next two events are of this type, for these two readers in either order. */
void monitor_expect_reader_pair(TkPcscMonitor *m, TkPcscEventType type, const char *reader0,
                                const char *reader1);
/* Nothing is reported for ms milliseconds. */
void monitor_expect_quiet(TkPcscMonitor *m, unsigned ms);
