/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>

#include "guard.h"

int guard_check(const Operation *op, const TkTokenInfo *info, bool force, bool puk, TkError *error)
{
    /* An unblock spends the PUK where the token has one; every other SO call the SO PIN. */
    bool spends_puk = puk && info->has_puk && op->ledger == LEDGER_JUDGED;
    const char *so = spends_puk ? "PUK" : "SO PIN";
    TkPinState so_state = spends_puk ? info->puk_state : info->so_pin_state;

    switch (op->presents) {
    case SECRET_USER_PIN:
        if (info->user_pin_state == TK_PIN_LOCKED)
            return tk_error_set(error, -EPERM, TK_ERROR_PIN_LOCKED,
                                "The user PIN of this token is locked. Have it unblocked at the "
                                "helpdesk.");
        if (info->user_pin_state != TK_PIN_FINAL_TRY)
            return 0;
        if (op->reads)
            return tk_error_set(error, -EDQUOT, TK_ERROR_PIN_FINAL_TRY,
                                "The user PIN of this token has one try left, and a wrong one "
                                "would lock it: it is not presented just to read the token. "
                                "Change the PIN first, or have it unblocked at the helpdesk.");
        if (!force)
            return tk_error_set(error, -EDQUOT, TK_ERROR_PIN_FINAL_TRY,
                                "The user PIN of this token has one try left; a wrong one would "
                                "lock it. Check the PIN, then repeat with option \"force\".");
        return 0;
    case SECRET_SO_PIN:
        if (so_state == TK_PIN_LOCKED)
            return tk_error_set(error, -EPERM, TK_ERROR_PIN_LOCKED,
                                "The %s of this token is locked; nothing that needs it can be "
                                "done any more.",
                                so);
        if (so_state == TK_PIN_FINAL_TRY && (op->reads || !force))
            return tk_error_set(error, -EDEADLK, TK_ERROR_SO_PIN_FINAL_TRY,
                                "The %s of this token has one try left; a wrong one would block "
                                "the token for good. Check it, then repeat with option "
                                "\"force\".",
                                so);
        return 0;
    case SECRET_NONE:
    default:
        return 0;
    }
}
