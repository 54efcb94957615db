/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "secret.h"
#include "token-error.h"

/* The site's part of the PIN policy ([Pin] in tokend.conf); the token adds its own limits. */
typedef struct TkPinPolicy {
    unsigned site_min_length;
    bool reject_trivial;
} TkPinPolicy;

/* Checks new_pin before a token is touched. token_min/token_max come from the token's
 * ulMinPinLen/ulMaxPinLen (0 = unknown); the effective minimum is the larger of site and token
 * minimum. old_pin may be NULL. Trivial PINs (when p->reject_trivial): one character repeated
 * ("111111", "aaaaaa"), or an all-digit PIN that is one ascending or descending run ("123456",
 * "654321"; 9 and 0 are not neighbours, so "890123" is not a run). On refusal returns
 * -EKEYREJECTED and fills error (TK_ERROR_PIN_POLICY) with the rule that failed and what to do;
 * the message never contains the PIN. */
int tk_pin_policy_check(const TkPinPolicy *p, unsigned token_min, unsigned token_max,
                        const TkSecret *new_pin, const TkSecret *old_pin, TkError *error);
