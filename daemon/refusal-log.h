/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "operations.h"
#include "token-error.h"

/* Calls that tokend refuses while it reads their arguments, before polkit is asked, are not
 * written to the audit trail (any local user could fill it), but each is one line in the
 * journal: REFUSAL_LOG_BURST lines per caller uid in REFUSAL_LOG_WINDOW_USEC, then one line
 * that says how many more were left out. */
#define REFUSAL_LOG_BURST       10
#define REFUSAL_LOG_WINDOW_USEC (10 * 1000000ull)
#define REFUSAL_LOG_CALLERS     32
#define REFUSAL_MESSAGE_ID      "c0f8d3a1e27b4e5d9b6a4f1e8d2c7b30"

typedef struct RefusalWindow {
    uid_t uid;
    uint64_t start_usec;
    unsigned logged;
    unsigned left_out;
    bool used;
} RefusalWindow;

/* The callers seen last; the one with the oldest window makes way for a new one. */
typedef struct RefusalLog {
    RefusalWindow callers[REFUSAL_LOG_CALLERS];
} RefusalLog;

/* Whether a refusal of uid at now_usec gets its line; *ret_left_out is how many lines of its
 * last window were left out, to be said first (0: none). */
bool refusal_log_admit(RefusalLog *l, uid_t uid, uint64_t now_usec, unsigned *ret_left_out);

/* Logs the refusal of a call of member (op: its row, NULL when the method itself was refused)
 * from uid/pid, with e's error name and message (which name the argument and the rule, never a
 * value), as the limits allow. */
void refusal_log(RefusalLog *l, uint64_t now_usec, const char *member, const Operation *op,
                 uid_t uid, pid_t pid, const TkError *e);
