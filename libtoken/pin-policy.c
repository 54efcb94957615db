/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>

#include "pin-policy.h"

static bool all_digits(const TkSecret *s)
{
    for (size_t i = 0; i < s->len; i++)
        if (s->data[i] < '0' || s->data[i] > '9')
            return false;
    return true;
}

static bool one_repeated_char(const TkSecret *s)
{
    for (size_t i = 1; i < s->len; i++)
        if (s->data[i] != s->data[0])
            return false;
    return true;
}

/* step is +1 (ascending) or -1 (descending); no wrapping from 9 to 0, since "890123" is not
 * what a person means by a run and refusing it would only surprise. */
static bool digit_run(const TkSecret *s, int step)
{
    for (size_t i = 1; i < s->len; i++)
        if (s->data[i] - s->data[i - 1] != step)
            return false;
    return true;
}

int tk_pin_policy_check(const TkPinPolicy *p, unsigned token_min, unsigned token_max,
                        const TkSecret *new_pin, const TkSecret *old_pin, TkError *error)
{
    if (!p || !new_pin)
        return -EINVAL;

    unsigned min = p->site_min_length > token_min ? p->site_min_length : token_min;
    if (min == 0)
        min = 1;

    if (token_max > 0 && token_max < min)
        return tk_error_set(error, -EKEYREJECTED, TK_ERROR_PIN_POLICY,
                            "The site requires PINs of at least %u characters but this token "
                            "accepts at most %u; lower [Pin] MinLength or use another token.",
                            min, token_max);

    if (new_pin->len < min)
        return tk_error_set(error, -EKEYREJECTED, TK_ERROR_PIN_POLICY,
                            "The new PIN must have at least %u characters; choose a longer one.",
                            min);
    if (token_max > 0 && new_pin->len > token_max)
        return tk_error_set(error, -EKEYREJECTED, TK_ERROR_PIN_POLICY,
                            "The new PIN must have at most %u characters (the token's limit); "
                            "choose a shorter one.",
                            token_max);
    if (p->reject_trivial && new_pin->len > 1) {
        if (one_repeated_char(new_pin))
            return tk_error_set(error, -EKEYREJECTED, TK_ERROR_PIN_POLICY,
                                "The new PIN must not be one character repeated; choose a PIN "
                                "that mixes different digits.");
        if (all_digits(new_pin) && (digit_run(new_pin, 1) || digit_run(new_pin, -1)))
            return tk_error_set(error, -EKEYREJECTED, TK_ERROR_PIN_POLICY,
                                "The new PIN must not be an ascending or descending run of "
                                "digits; choose a less predictable PIN.");
    }

    if (old_pin && tk_secret_equal(new_pin, old_pin))
        return tk_error_set(error, -EKEYREJECTED, TK_ERROR_PIN_POLICY,
                            "The new PIN must differ from the current one.");
    return 0;
}
