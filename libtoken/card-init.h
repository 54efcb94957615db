/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The initialisation of a card whose PINs carry a PUK (OpenSC over PC/SC): the SO PIN checked
 * through PKCS#11, the card personalised with OpenSC's pkcs15-init while the module lets go of
 * it, and the card found again, by its reader, in the module loaded afresh. */
#pragma once

#include "token.h"

/* Initialises the card that *token (opened from *module) stands for with tk_pkcs15_personalise():
 * the SO PIN doubles as the user PIN's PUK, so the unblock takes the same secret. new_pin is
 * required: such a card gets its user PIN when it is initialised. The SO PIN of a card that
 * was initialised before is checked first, so that a wrong one is a PinIncorrect before
 * anything is erased.
 *
 * *token and *module are freed meanwhile (OpenSC in this process lets go of the card, and
 * forgets what it knew of it), the module is loaded afresh from module_path and the card
 * found again in the same reader: then *token is it and *serial its serial (the old string
 * freed), whether or not the personalisation worked. Where it is not found again, *token is
 * NULL, *module may be NULL too, and error says so (TokenRemoved) unless the personalisation
 * itself failed first. The caller records any reset of the PUK's count. */
int tk_card_initialize(const char *module_path, TkModule **module, TkToken **token, char **serial,
                       const TkSecret *so_pin, const char *label, const TkSecret *new_pin,
                       TkError *error);
