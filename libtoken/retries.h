/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "token.h"

/* What the card itself said about its retry counters over PC/SC, without spending a try;
 * -1 where it said nothing. */
typedef struct TkCardRetries {
    int user;
    int so;
    int puk;
} TkCardRetries;

#define TK_CARD_RETRIES_UNKNOWN ((TkCardRetries){-1, -1, -1})

/* Puts the best-known retry counts into info, naming where each came from: the card's own
 * answer first, then the PKCS#11 flags (already in info), then tokend's ledger of failed
 * unblock attempts. so_is_puk: the token unblocks with a PUK apart from its SO PIN (OpenSC
 * cards): info gets has_puk and the puk_* counts, which the ledger's count goes to, and the
 * so_pin_* fields keep describing the SO PIN. ledger_failed is the number of failed attempts tokend
 * made since the last success (-1: no record); max_tries the counter's start value (0: unknown),
 * needed to turn failures into tries left. A count also sharpens the state: 0 is locked, 1 final
 * try. */
void tk_token_info_apply_retries(TkTokenInfo *info, const TkCardRetries *card, bool so_is_puk,
                                 int ledger_failed, unsigned max_tries);

/* Whether tk_token_info_apply_retries() leaves the count of the secret an unblock spends (the
 * PUK where so_is_puk, else the SO PIN) to tokend's ledger: the card
 * gives none, the flags in info give no exact one for it (or describe another PIN: so_is_puk),
 * and the counter's start value is known. info is as the module gave it, before any count was
 * applied. Where this holds, the final-try guard knows of the PUK only what the ledger says. */
bool tk_retries_so_from_ledger(const TkTokenInfo *info, const TkCardRetries *card, bool so_is_puk,
                               unsigned max_tries);

/* Which secret a call presented, for telling the caller how many tries it has left. */
typedef enum TkSecretSpent {
    TK_SPENT_USER_PIN,
    TK_SPENT_SO_PIN,
    TK_SPENT_PUK, /* counted in the puk_* fields of the info: see so_is_puk above */
} TkSecretSpent;

/* Rewrites a PinIncorrect error with the count that the module's flags could not give: the
 * card's own counter, or for a PUK tokend's ledger, so that the person at the counter knows
 * how careful to be. info is the token's info read after the failed attempt. Any other error,
 * and a count from the flags or from nowhere, is left as it is. */
void tk_pin_incorrect_with_tries(const TkTokenInfo *info, TkSecretSpent spent, TkError *error);
