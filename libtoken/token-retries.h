/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A token's info with its retry counts from the best source there is: the card itself over
 * PC/SC, the PKCS#11 flags, or tokend's retry ledger. The rule that picks among them is
 * tk_token_info_apply_retries() in retries.h; this gathers what it picks from. */
#pragma once

#include <stdbool.h>

#include "token.h"

/* Reads the token's info and puts in the best-known retry counts: the card's own counters
 * where a PC/SC probe knows the card (only for tokens that unblock with a PUK: OpenSC over
 * PC/SC), then the PKCS#11 flags, then the failed SO PIN/PUK attempts recorded in the retry
 * ledger in ledger_dir (NULL: none). unblock_with_puk: the SO counter shown is the PUK's. A
 * probe or ledger that cannot be read only leaves its source out. */
int tk_token_get_info_with_retries(TkToken *t, bool unblock_with_puk, const char *ledger_dir,
                                   TkTokenInfo *ret, TkError *error);
