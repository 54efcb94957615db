/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A token's retry counts gathered from the card over PC/SC and the PKCS#11 flags, and chosen
 * among, with tokend's ledger count, by tk_token_info_apply_retries(). */
#include <errno.h>

#include "p11-internal.h"
#include "pcsc-probe.h"
#include "token-retries.h"

int tk_token_get_retry_facts(TkToken *t, bool unblock_with_puk, TkTokenInfo *ret,
                             TkCardRetries *ret_card, unsigned *ret_so_max_tries, TkError *error)
{
    TkCardRetries card = TK_CARD_RETRIES_UNKNOWN;
    int r = tk_token_get_info(t, ret, error);
    if (r < 0)
        return r;
    if (unblock_with_puk && !isempty(ret->slot_description)) {
        TkError probe_error = {};
        r = tk_pcsc_probe_retries(ret->slot_description, &card.user, &card.so, &card.puk,
                                  &probe_error);
        /* The ledger turns tokend's count of failed attempts into tries left only with the
         * PUK's start value: the one MyEID's personalisation gives, on a card that answers as a
         * MyEID. Elsewhere it is not known, and not guessed; a card that could not be asked
         * just now is still the card it was. */
        if (r >= 0)
            t->puk_start = TK_PCSC_PROBE_PUK_MAX_TRIES;
        else {
            card = TK_CARD_RETRIES_UNKNOWN;
            if (r == -EOPNOTSUPP)
                t->puk_start = 0;
        }
    }
    *ret_card = card;
    *ret_so_max_tries = unblock_with_puk ? t->puk_start : 0;
    return 0;
}

int tk_token_get_info_with_retries(TkToken *t, bool unblock_with_puk, int ledger_failed,
                                   TkTokenInfo *ret, TkError *error)
{
    TkCardRetries card;
    unsigned so_max_tries;
    int r = tk_token_get_retry_facts(t, unblock_with_puk, ret, &card, &so_max_tries, error);
    if (r < 0)
        return r;
    tk_token_info_apply_retries(ret, &card, unblock_with_puk, ledger_failed, so_max_tries);
    return 0;
}
