/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "token-error.h"

/* The PUK's start value on the cards the probe knows: OpenSC's pkcs15-init gives a MyEID user
 * PIN's PUK 10 tries (myeid.profile, user-puk attempts), and VERIFY cannot read that counter,
 * so tokend's ledger counts down from it. */
#define TK_PCSC_PROBE_PUK_MAX_TRIES 10

/* Retry counters read from the card itself, without spending a try; -1 where the card gives no
 * answer for that counter. -EOPNOTSUPP when no probe is known for this card (by ATR): the
 * caller then falls back to the PKCS#11 flags and the ledger. */
int tk_pcsc_probe_retries(const char *reader, int *ret_user, int *ret_so, int *ret_puk,
                          TkError *error);

/* Whether an ATR belongs to a card we have a probe for. */
bool tk_pcsc_probe_known_atr(const uint8_t *atr, size_t atr_len);

/* Reads an ISO 7816 answer to VERIFY without data: tries left, or -1 when the status words say
 * nothing about the counter. "90 00" means the PIN is verified in this card session: the
 * counter is then at its start value, max_tries. */
int tk_pcsc_verify_status_to_tries(uint8_t sw1, uint8_t sw2, int max_tries);
