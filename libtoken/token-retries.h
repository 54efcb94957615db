/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A token's info with what is known of its retry counters: the card itself over PC/SC and the
 * PKCS#11 flags, read here, and tokend's retry ledger, whose count the caller brings. The rule
 * that picks among them is tk_token_info_apply_retries() in retries.h. */
#pragma once

#include <stdbool.h>

#include "retries.h"
#include "token.h"

/* Reads the token's info (its counts as the PKCS#11 flags give them) and what else there is to
 * count with: the card's own counters where the card answers the PC/SC probe as a MyEID (only
 * for tokens that unblock with a PUK: OpenSC over PC/SC), and *ret_so_max_tries, the start value
 * of the PUK counter that a ledger's count of failures is taken from: MyEID's, once the card
 * answered as one, else 0 (not known: the ledger counts nothing). A probe that cannot be read
 * leaves the card's counters unknown. */
int tk_token_get_retry_facts(TkToken *t, bool unblock_with_puk, TkTokenInfo *ret,
                             TkCardRetries *ret_card, unsigned *ret_so_max_tries, TkError *error);

/* The same info with the best-known counts put in; ledger_failed is tokend's count of failed
 * SO PIN/PUK attempts since the last success (-1: none). unblock_with_puk: the SO counter
 * shown is the PUK's. */
int tk_token_get_info_with_retries(TkToken *t, bool unblock_with_puk, int ledger_failed,
                                   TkTokenInfo *ret, TkError *error);
