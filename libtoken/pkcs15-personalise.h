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
 * meanwhile: unload the module first. pkcs15-init inherits no descriptor but its standard
 * input (/dev/null), output (/dev/null) and error (read back for the error message), and is
 * SIGKILLed should the caller die first (strictly: the thread that called this).
 *
 * This is the initialisation for cards whose PINs carry a PUK (MyEID and others): OpenSC's
 * C_InitToken/C_InitPIN create PINs without one, which such cards refuse. */
int tk_pkcs15_personalise(const char *reader, const char *label, const TkSecret *so_pin,
                          const TkSecret *user_pin, TkError *error);
/* The same with program run in pkcs15-init's place (looked up in PATH when it has no slash), for
 * tests: a stand-in that reports what it was given, or that waits to be killed. */
int tk_pkcs15_personalise_with(const char *program, const char *reader, const char *label,
                               const TkSecret *so_pin, const TkSecret *user_pin, TkError *error);
