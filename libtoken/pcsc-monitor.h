/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "pcsc-readers.h"
#include "token-error.h"

typedef enum TkPcscEventType {
    TK_PCSC_READER_ADDED,
    TK_PCSC_READER_REMOVED,
    TK_PCSC_CARD_INSERTED,
    TK_PCSC_CARD_REMOVED,
    TK_PCSC_SERVICE_LOST,
    TK_PCSC_SERVICE_BACK,
} TkPcscEventType;

/* pcsc-lite's reader names are at most 127 bytes, escaping makes a byte at most 4. */
#define TK_PCSC_READER_NAME_MAX (4 * 127 + 1)

typedef struct TkPcscEvent {
    TkPcscEventType type;
    /* Escaped with tk_utf8_escape(), as tk_pcsc_list_readers() gives it; empty for
     * SERVICE_LOST / SERVICE_BACK. */
    char reader[TK_PCSC_READER_NAME_MAX];
    uint8_t atr[TK_ATR_MAX];
    size_t atr_len; /* CARD_INSERTED only */
} TkPcscEvent;

typedef struct TkPcscMonitor TkPcscMonitor;

/* Starts a thread with its own PC/SC context that watches readers and cards. It first reports
 * READER_ADDED (and CARD_INSERTED) for everything already there. When pcscd is not running,
 * or goes away later, it reports SERVICE_LOST (and READER_REMOVED for each reader it knew),
 * reconnects once a second, and reports SERVICE_BACK and the readers found then. A missing
 * pcscd at start is therefore not an error. */
int tk_pcsc_monitor_start(TkPcscMonitor **ret, TkError *error);

/* An eventfd that is readable while events are queued; for sd_event_add_io() (EPOLLIN). */
int tk_pcsc_monitor_fd(TkPcscMonitor *m);

/* 1 and *ret filled when an event was queued, 0 when none is, < 0 when the monitor thread
 * failed (it has stopped then). */
int tk_pcsc_monitor_next(TkPcscMonitor *m, TkPcscEvent *ret);

/* Wakes the thread with SCardCancel, joins it and frees everything. Returns NULL. */
TkPcscMonitor *tk_pcsc_monitor_stop(TkPcscMonitor *m);

const char *tk_pcsc_event_type_to_string(TkPcscEventType t);
