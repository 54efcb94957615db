/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "secret.h"
#include "token-error.h"

/* Erases a personalised MyEID card in a PC/SC reader the way the card itself wants it, with no
 * terminal: VERIFY of the PIN that the MF's delete access condition names (the SO PIN,
 * reference 3, on a card personalised with OpenSC's myeid profile), then INITIALISE APPLET
 * (PUT DATA 01 E0). The card is then back in its creation state, where OpenSC's pkcs15-init
 * erases and personalises it without asking for any PIN. OpenSC's own erase cannot be used on a
 * personalised card: pkcs15-init ignores --so-pin for it and reads the PIN from a terminal.
 *
 * Returns 0 when the card was erased or needs no PIN to be (it is in its creation state, or its
 * MF may be deleted always). -EOPNOTSUPP when the card is not a MyEID (by ATR), and only then: the
 * caller leaves the erase to pkcs15-init. A wrong SO PIN is -ENOLCK (PinIncorrect) with the tries
 * left, and nothing is erased. The card must not be held by OpenSC in this process meanwhile. */
int tk_myeid_erase(const char *reader, const TkSecret *so_pin, TkError *error);
