/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "token-error.h"

/* tokend's own count of failed SO PIN/PUK attempts per token serial, for cards whose PUK
 * counter cannot be read. One json-c file, TK_LEDGER_FILE in dir, rewritten atomically (temp
 * file, fsync, rename; mode 0600) under an advisory lock. */
#define TK_LEDGER_FILE "retry-ledger.json"

/* The largest count a ledger holds; a file with a larger one is not a ledger. */
#define TK_LEDGER_FAILED_MAX 1000000

/* How an attempt that the SO PIN/PUK itself judges ended, as tokend heard it: right, refused,
 * or cut off with the card's answer lost (the token pulled, the worker gone, the time limit,
 * tokend killed), when the card may or may not have spent a try. */
typedef enum TkLedgerOutcome {
    TK_LEDGER_SUCCESS,
    TK_LEDGER_FAILED,
    TK_LEDGER_UNKNOWN,
} TkLedgerOutcome;

/* A token's record since the last right attempt: failed, the attempts the card refused (-1: no
 * record yet); unknown, those whose answer was lost. */
typedef struct TkLedgerCount {
    int failed;
    int unknown;
} TkLedgerCount;

#define TK_LEDGER_NO_RECORD ((TkLedgerCount){.failed = -1})

/* What a count of refused attempts becomes after one more judged attempt: 0 after a right one,
 * one more after a wrong one (failed -1: no record yet). It stops at TK_LEDGER_FAILED_MAX, so
 * that what is written is always read again. */
static inline int tk_ledger_next(int failed, bool success)
{
    if (success)
        return 0;
    if (failed < 0)
        return 1;
    return failed < TK_LEDGER_FAILED_MAX ? failed + 1 : TK_LEDGER_FAILED_MAX;
}

/* The record after one more attempt: a right one clears both counts. */
TkLedgerCount tk_ledger_count_next(TkLedgerCount count, TkLedgerOutcome outcome);

/* The failures the final-try guard reckons with, of a secret with max_tries tries (0: not
 * known): every refused attempt and every one whose answer was lost, except that lost answers
 * alone never spend the last try. Only the card's word locks it: until then the guard asks for
 * force before that try, which a right PUK passes (or finds the card blocked, which costs
 * nothing more), and no typo can make. -1 when there is no record. */
int tk_ledger_failures(TkLedgerCount count, unsigned max_tries);

/* *ret: the serial's record, TK_LEDGER_NO_RECORD when it has none (or there is no ledger yet).
 * -EBADMSG when the file is not a ledger. */
int tk_ledger_get(const char *dir, const char *serial, TkLedgerCount *ret);

/* Gives fn every serial's record in the ledger in dir (none when there is no ledger), under a
 * shared lock; a negative return from fn stops and is returned. -EBADMSG when the file is not a
 * ledger. */
typedef int (*TkLedgerEntryFn)(const char *serial, TkLedgerCount count, void *userdata);
int tk_ledger_foreach(const char *dir, TkLedgerEntryFn fn, void *userdata);

/* Counts one attempt's outcome. A file that is not a ledger fails with -EBADMSG and is left as
 * it is: starting anew would forget every count in it. */
int tk_ledger_record(const char *dir, const char *serial, TkLedgerOutcome outcome);

/* Whether the ledger in dir can be locked, read and written now: takes the lock (creating the
 * lock file), reads the ledger and writes it back the way a record does (creating it when
 * missing). Fills error with a message that names the file and the reason. It cannot promise
 * the next write: the disk may fill in between. */
int tk_ledger_check(const char *dir, TkError *error);
