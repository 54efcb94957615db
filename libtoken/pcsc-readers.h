/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "token-error.h"

#define TK_ATR_MAX 33

typedef struct TkReaderInfo {
    char *name; /* as pcscd names it, escaped with tk_utf8_escape() */
    bool card_present;
    uint8_t atr[TK_ATR_MAX];
    size_t atr_len;
} TkReaderInfo;

/* The readers pcscd knows now, with card presence and ATR. No reader is not an error: 0 with
 * *ret_n = 0 (and *ret NULL). */
int tk_pcsc_list_readers(TkReaderInfo **ret, size_t *ret_n, TkError *error);
void tk_reader_info_array_free(TkReaderInfo *r, size_t n);
