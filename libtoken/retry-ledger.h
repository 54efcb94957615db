/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

/* tokend's own count of failed SO PIN/PUK attempts per token serial, for cards whose PUK
 * counter cannot be read. One json-c file, TK_LEDGER_FILE in dir, rewritten atomically (temp
 * file, fsync, rename; mode 0600) under an advisory lock, so that workers of several tokens
 * may record at the same time. */
#define TK_LEDGER_FILE "retry-ledger.json"

/* *ret_failed_puk: failed attempts since the last success, -1 when the serial has no record
 * (or there is no ledger yet). -EBADMSG when the file is not a ledger. */
int tk_ledger_get(const char *dir, const char *serial, int *ret_failed_puk);

/* Counts one failed attempt, or resets the count to 0 on success. A file that is not a ledger
 * is moved aside to TK_LEDGER_FILE ".corrupt" and a new one started, so that counting goes
 * on. */
int tk_ledger_record(const char *dir, const char *serial, bool success);
