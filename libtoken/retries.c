/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>

#include "retries.h"

static void set_count(int count, TkRetriesSource source, int *ret_retries,
                      TkRetriesSource *ret_source, TkPinState *state)
{
    *ret_retries = count;
    *ret_source = source;
    if (count == 0)
        *state = TK_PIN_LOCKED;
    else if (count == 1)
        *state = TK_PIN_FINAL_TRY;
    else if (*state == TK_PIN_LOCKED || *state == TK_PIN_FINAL_TRY)
        /* The count is the fresher word: the flags lag behind on some modules. */
        *state = TK_PIN_COUNT_LOW;
}

static int card_unblock(const TkCardRetries *card, bool so_is_puk)
{
    return card ? (so_is_puk ? card->puk : card->so) : -1;
}

bool tk_retries_so_from_ledger(const TkTokenInfo *info, const TkCardRetries *card, bool so_is_puk,
                               unsigned max_tries)
{
    if (card_unblock(card, so_is_puk) >= 0 || max_tries == 0)
        return false;
    /* The flags are exact at locked and final try, but only for the SO PIN itself. */
    return so_is_puk || info->so_pin_retries_source != TK_RETRIES_FLAGS;
}

void tk_token_info_apply_retries(TkTokenInfo *info, const TkCardRetries *card, bool so_is_puk,
                                 int ledger_failed, unsigned max_tries)
{
    if (card && card->user >= 0)
        set_count(card->user, TK_RETRIES_CARD, &info->user_pin_retries,
                  &info->user_pin_retries_source, &info->user_pin_state);
    /* The SO flags and the card's SO counter describe the SO PIN object on every token. */
    if (card && card->so >= 0)
        set_count(card->so, TK_RETRIES_CARD, &info->so_pin_retries, &info->so_pin_retries_source,
                  &info->so_pin_state);

    info->has_puk = so_is_puk;
    int *retries = so_is_puk ? &info->puk_retries : &info->so_pin_retries;
    TkRetriesSource *source = so_is_puk ? &info->puk_retries_source : &info->so_pin_retries_source;
    TkPinState *state = so_is_puk ? &info->puk_state : &info->so_pin_state;
    if (so_is_puk) {
        /* OpenSC maps no PUK to any flag: nothing says until the card or the ledger does. */
        info->puk_state = TK_PIN_OK;
        info->puk_retries = -1;
        info->puk_retries_source = TK_RETRIES_UNKNOWN;
        if (card && card->puk >= 0) {
            set_count(card->puk, TK_RETRIES_CARD, retries, source, state);
            return;
        }
    } else if (card && card->so >= 0)
        return;
    bool from_ledger = tk_retries_so_from_ledger(info, card, so_is_puk, max_tries);
    /* Where nothing else gives a count of the secret an unblock spends, tokend's own record of
     * its failed attempts is the best there is. */
    if (!from_ledger || ledger_failed < 0)
        return;
    int left = (int)max_tries - ledger_failed;
    set_count(left > 0 ? left : 0, TK_RETRIES_LEDGER, retries, source, state);
}

void tk_pin_incorrect_with_tries(const TkTokenInfo *info, TkSecretSpent spent, TkError *error)
{
    if (!streq(error->name, TK_ERROR_PIN_INCORRECT))
        return;
    bool user = spent == TK_SPENT_USER_PIN;
    bool puk = spent == TK_SPENT_PUK && info->has_puk;
    int left = user ? info->user_pin_retries : puk ? info->puk_retries : info->so_pin_retries;
    TkRetriesSource source = user  ? info->user_pin_retries_source
                             : puk ? info->puk_retries_source
                                   : info->so_pin_retries_source;
    const char *what = user ? "user PIN" : spent == TK_SPENT_PUK ? "PUK" : "SO PIN";
    if (left < 0 || (source != TK_RETRIES_CARD && source != TK_RETRIES_LEDGER))
        return;
    if (left == 0)
        (void)tk_error_set(error, -ENOLCK, TK_ERROR_PIN_INCORRECT,
                           "The %s is incorrect, and it is now locked.%s", what,
                           user ? " Have it unblocked at the helpdesk." : "");
    else
        (void)tk_error_set(error, -ENOLCK, TK_ERROR_PIN_INCORRECT,
                           "The %s is incorrect: %d %s left before it locks%s. Check it and try "
                           "again.",
                           what, left, left == 1 ? "try" : "tries",
                           source == TK_RETRIES_LEDGER ? " (as counted by tokend)" : "");
}
