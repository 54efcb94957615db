/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A token's retry counts gathered from the card over PC/SC and the PKCS#11 flags, and chosen
 * among, with tokend's ledger count, by tk_token_info_apply_retries(). */
#include "pcsc-probe.h"
#include "token-retries.h"

/* A PUK's counter usually starts at 3 on ISO 7816 cards; the ledger turns tokend's count of
 * failed attempts into tries left with it, or with the card's own start value where the PC/SC
 * probe knows the card. */
#define PUK_MAX_TRIES 3

int tk_token_get_retry_facts(TkToken *t, bool unblock_with_puk, TkTokenInfo *ret,
                             TkCardRetries *ret_card, unsigned *ret_so_max_tries, TkError *error)
{
    TkCardRetries card = TK_CARD_RETRIES_UNKNOWN;
    unsigned puk_max = unblock_with_puk ? PUK_MAX_TRIES : 0;
    int r = tk_token_get_info(t, ret, error);
    if (r < 0)
        return r;
    if (unblock_with_puk && !isempty(ret->slot_description)) {
        TkError probe_error = {};
        if (tk_pcsc_probe_retries(ret->slot_description, &card.user, &card.so, &card.puk,
                                  &probe_error) < 0)
            card = TK_CARD_RETRIES_UNKNOWN;
        else
            puk_max = TK_PCSC_PROBE_PUK_MAX_TRIES;
    }
    *ret_card = card;
    *ret_so_max_tries = puk_max;
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
