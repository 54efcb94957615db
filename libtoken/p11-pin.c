/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "p11-error.h"
#include "p11-internal.h"

static const char *who_name(TkUserType who)
{
    return who == TK_SO ? "SO PIN" : "user PIN";
}

/* Rewrites a PinIncorrect error with what the token now says about the tries left, so the
 * person at the counter knows how careful to be. */
static int pin_incorrect(TkToken *t, TkUserType who, int r, TkError *error)
{
    TkTokenInfo info = {};
    if (tk_token_get_info(t, &info, NULL) < 0)
        return tk_error_set(error, r, TK_ERROR_PIN_INCORRECT,
                            "The %s is incorrect. Check it and try again; the token locks after "
                            "a few wrong tries.",
                            who_name(who));

    TkPinState state = who == TK_SO ? info.so_pin_state : info.user_pin_state;
    int retries = who == TK_SO ? info.so_pin_retries : info.user_pin_retries;
    tk_token_info_done(&info);

    if (state == TK_PIN_LOCKED)
        return tk_error_set(error, r, TK_ERROR_PIN_INCORRECT,
                            "The %s is incorrect, and it is now locked. %s", who_name(who),
                            who == TK_SO ? "The token must be reinitialised."
                                         : "Have it unblocked at the helpdesk.");
    if (retries > 0)
        return tk_error_set(error, r, TK_ERROR_PIN_INCORRECT,
                            "The %s is incorrect: %d %s left before it locks. Check it and try "
                            "again.",
                            who_name(who), retries, retries == 1 ? "try" : "tries");
    if (state == TK_PIN_COUNT_LOW)
        return tk_error_set(error, r, TK_ERROR_PIN_INCORRECT,
                            "The %s is incorrect, and few tries are left before it locks. Check "
                            "it and try again.",
                            who_name(who));
    return tk_error_set(error, r, TK_ERROR_PIN_INCORRECT,
                        "The %s is incorrect. Check it and try again; the token locks after a "
                        "few wrong tries.",
                        who_name(who));
}

static int require_pin(const TkSecret *pin, const char *which, TkError *error)
{
    if (pin)
        return 0;
    return tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                        "This operation needs the %s. Give it and repeat.", which);
}

int tk_token_login(TkToken *t, TkUserType who, const TkSecret *pin, TkError *error)
{
    PKCS11_SLOT *slot;
    CK_SESSION_HANDLE session;
    int r = require_pin(pin, who_name(who), error);
    if (r < 0)
        return r;
    r = tk_token_slot(t, &slot, error);
    if (r < 0)
        return r;
    tk_token_logout(t);

    /* An SO login is refused while read-only sessions exist, so libp11's pool goes read-write
     * too. */
    (void)PKCS11_open_session(slot, 1);
    r = tk_token_open_session(t, true, &session, error);
    if (r < 0)
        return r;
    CK_RV rv = t->module->fl->C_Login(session, who == TK_SO ? CKU_SO : CKU_USER,
                                      (CK_UTF8CHAR_PTR)pin->data, pin->len);
    if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN) {
        t->login_session = session;
        return 0;
    }
    t->module->fl->C_CloseSession(session);

    char what[64];
    snprintf(what, sizeof(what), "log in with the %s", who_name(who));
    r = tk_token_error_from_ckr(t, error, rv, what);
    if (rv == CKR_PIN_INCORRECT)
        return pin_incorrect(t, who, r, error);
    if (rv == CKR_PIN_LOCKED)
        return tk_error_set(error, r, TK_ERROR_PIN_LOCKED, "The %s is locked. %s", who_name(who),
                            who == TK_SO ? "The token must be reinitialised."
                                         : "Have it unblocked at the helpdesk.");
    return r;
}

void tk_token_logout(TkToken *t)
{
    if (t->login_session) {
        (void)t->module->fl->C_Logout(t->login_session);
        (void)t->module->fl->C_CloseSession(t->login_session);
        t->login_session = 0;
        /* Flushes libp11's cached key and certificate lists, which still hold private keys
         * and objects this call may have removed. Its own C_Logout finds nobody logged in. */
        if (t->slot && t->generation == t->module->generation)
            (void)PKCS11_logout(t->slot);
    }
    (void)tk_p11_last_ckr();
}

int tk_token_change_pin(TkToken *t, TkUserType who, const TkSecret *old_pin,
                        const TkSecret *new_pin, TkError *error)
{
    int r = require_pin(new_pin, "new PIN", error);
    if (r < 0)
        return r;
    r = tk_token_login(t, who, old_pin, error);
    if (r < 0)
        return r;

    if (PKCS11_change_pin(t->slot, old_pin->data, new_pin->data) < 0) {
        unsigned long rv = tk_p11_last_ckr();
        tk_token_logout(t);
        if (rv == CKR_PIN_INCORRECT)
            return pin_incorrect(t, who, -ENOLCK, error);
        return tk_token_error_from_ckr(t, error, rv, "change the PIN");
    }
    tk_token_logout(t);
    return 0;
}

int tk_token_init_pin(TkToken *t, const TkSecret *so_pin, const TkSecret *new_pin, TkError *error)
{
    int r = require_pin(new_pin, "new PIN", error);
    if (r < 0)
        return r;
    r = tk_token_login(t, TK_SO, so_pin, error);
    if (r < 0)
        return r;

    if (PKCS11_init_pin(t->slot->token, new_pin->data) < 0) {
        r = tk_token_error_from_libp11(t, error, "set the user PIN");
        tk_token_logout(t);
        return r;
    }
    tk_token_logout(t);
    return 0;
}

int tk_token_check_pin(TkToken *t, TkUserType who, const TkSecret *pin, TkError *error)
{
    int r = tk_token_login(t, who, pin, error);
    if (r < 0)
        return r;
    tk_token_logout(t);
    return 0;
}

int tk_token_unblock_pin(TkToken *t, const TkSecret *puk, const TkSecret *new_pin, TkError *error)
{
    PKCS11_SLOT *slot;
    CK_SESSION_HANDLE session;
    int r = require_pin(puk, "PUK", error);
    if (r < 0)
        return r;
    r = require_pin(new_pin, "new PIN", error);
    if (r < 0)
        return r;
    r = tk_token_slot(t, &slot, error);
    if (r < 0)
        return r;

    /* Not logged in on purpose: that is what makes OpenSC send RESET RETRY COUNTER. A session
     * of our own, read-write as C_SetPIN wants, whatever sessions libp11 holds. */
    tk_token_logout(t);
    r = tk_token_open_session(t, true, &session, error);
    if (r < 0)
        return r;
    CK_RV rv = t->module->fl->C_SetPIN(session, (CK_UTF8CHAR_PTR)puk->data, puk->len,
                                       (CK_UTF8CHAR_PTR)new_pin->data, new_pin->len);
    t->module->fl->C_CloseSession(session);
    if (rv == CKR_OK)
        return 0;
    if (rv == CKR_PIN_INCORRECT)
        return tk_error_set(error, -ENOLCK, TK_ERROR_PIN_INCORRECT,
                            "The PUK is incorrect. Check it against the token's letter and try "
                            "again; the PUK locks for good after a few wrong tries.");
    if (rv == CKR_PIN_LOCKED)
        return tk_error_set(error, -EPERM, TK_ERROR_PIN_LOCKED,
                            "The PUK is locked: this token can no longer be unblocked and must "
                            "be reinitialised.");
    return tk_token_error_from_ckr(t, error, rv, "unblock the PIN with the PUK");
}

int tk_token_initialize(TkToken *t, const TkSecret *so_pin, const char *label,
                        const TkSecret *user_pin, TkError *error)
{
    PKCS11_SLOT *slot;
    int r = require_pin(so_pin, "SO PIN", error);
    if (r < 0)
        return r;
    if (isempty(label) || strlen(label) > 32)
        return tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                            "A token label must have 1 to 32 characters.");
    /* C_InitToken fails with CKR_SESSION_EXISTS while libp11 keeps pooled sessions open;
     * reading the slot list afresh makes libp11 close them. */
    tk_token_logout(t);
    r = tk_module_refresh(t->module, error);
    if (r < 0)
        return r;
    r = tk_token_slot(t, &slot, error);
    if (r < 0)
        return r;
    /* libp11 0.4.12 does not hand back every session it took for deleting an object, and
     * OpenSC then refuses C_InitToken as SoftHSM2 does not. The token belongs to this process
     * alone (one worker a token), so no session of anyone else's is closed here. */
    (void)t->module->fl->C_CloseAllSessions(t->slot_id);
    /* C_InitToken reads a 32-byte blank-padded label; libp11 0.4.12 hands it the caller's
     * string as it is, so the call is made here. */
    CK_UTF8CHAR padded[32];
    memset(padded, ' ', sizeof(padded));
    memcpy(padded, label, strlen(label));
    CK_RV rv =
        t->module->fl->C_InitToken(t->slot_id, (CK_UTF8CHAR_PTR)so_pin->data, so_pin->len, padded);
    if (rv == CKR_PIN_INCORRECT)
        return pin_incorrect(t, TK_SO, -ENOLCK, error);
    if (rv != CKR_OK)
        return tk_token_error_from_ckr(t, error, rv, "initialise the token");

    /* Some modules (SoftHSM2) give an initialised token a new serial and slot; follow it by
     * the slot it was in before the slot list is read again. */
    CK_TOKEN_INFO ti;
    if (t->module->fl->C_GetTokenInfo(t->slot_id, &ti) == CKR_OK) {
        char *serial = tk_p11_string(ti.serialNumber, sizeof(ti.serialNumber));
        if (!serial)
            return -ENOMEM;
        free(t->serial);
        t->serial = serial;
    }

    if (!user_pin)
        return 0;
    return tk_token_init_pin(t, so_pin, user_pin, error);
}
