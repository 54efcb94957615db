/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "secret.h"
#include "token-error.h"

/* Personalises the card in a PC/SC reader afresh with OpenSC's own pkcs15-init, as an issuing
 * station does: erases it (a card personalised before wants its SO PIN for that), creates the
 * PKCS#15 structure with the SO PIN (its PUK the same secret), stores the user PIN with the SO
 * PIN as its PUK, and finalises the card. The secrets reach pkcs15-init through its
 * environment ("env:" arguments), never its command line. OpenSC's configuration comes from
 * OPENSC_CONF as for the caller. The card must not be held by OpenSC in this process
 * meanwhile: unload the module first.
 *
 * This is the initialisation for cards whose PINs carry a PUK (MyEID and others): OpenSC's
 * C_InitToken/C_InitPIN create PINs without one, which such cards refuse. */
int tk_pkcs15_personalise(const char *reader, const char *label, const TkSecret *so_pin,
                          const TkSecret *user_pin, TkError *error);
