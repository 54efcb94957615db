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

/* What a count becomes after one attempt that the SO PIN/PUK itself judged: 0 after a right
 * one, one more failure after a wrong one (failed -1: no record yet). It stops at
 * TK_LEDGER_FAILED_MAX, so that what is written is always read again. */
static inline int tk_ledger_next(int failed, bool success)
{
    if (success)
        return 0;
    if (failed < 0)
        return 1;
    return failed < TK_LEDGER_FAILED_MAX ? failed + 1 : TK_LEDGER_FAILED_MAX;
}

/* *ret_failed_puk: failed attempts since the last success, -1 when the serial has no record
 * (or there is no ledger yet). -EBADMSG when the file is not a ledger. */
int tk_ledger_get(const char *dir, const char *serial, int *ret_failed_puk);

/* Counts one failed attempt, or resets the count to 0 on success. A file that is not a ledger
 * fails with -EBADMSG and is left as it is: starting anew would forget every count in it. */
int tk_ledger_record(const char *dir, const char *serial, bool success);

/* Whether the ledger in dir can be locked, read and written now: takes the lock (creating the
 * lock file), reads the ledger and writes it back the way a record does (creating it when
 * missing). Fills error with a message that names the file and the reason. It cannot promise
 * the next write: the disk may fill in between. */
int tk_ledger_check(const char *dir, TkError *error);
