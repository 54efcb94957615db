/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A token's retry counts gathered from the card over PC/SC, the PKCS#11 flags and the retry
 * ledger, and chosen among by tk_token_info_apply_retries(). */
#include "pcsc-probe.h"
#include "retries.h"
#include "retry-ledger.h"
#include "token-retries.h"

/* A PUK's counter usually starts at 3 on ISO 7816 cards; the ledger turns tokend's count of
 * failed attempts into tries left with it, or with the card's own start value where the PC/SC
 * probe knows the card. */
#define PUK_MAX_TRIES 3

int tk_token_get_info_with_retries(TkToken *t, bool unblock_with_puk, const char *ledger_dir,
                                   TkTokenInfo *ret, TkError *error)
{
    TkCardRetries card = TK_CARD_RETRIES_UNKNOWN;
    unsigned puk_max = unblock_with_puk ? PUK_MAX_TRIES : 0;
    int failed = -1;
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
    if (ledger_dir && tk_ledger_get(ledger_dir, ret->serial, &failed) < 0)
        failed = -1;
    tk_token_info_apply_retries(ret, &card, unblock_with_puk, failed, puk_max);
    return 0;
}
