/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The PIN policy on a new PIN from a caller and the limits a token reports: the site's minimum
 * (1 byte, as [Pin] MinLength takes it: 0..64), a flags byte (bit 0 RejectTrivial, bit 1 an old
 * PIN given), the token's minimum and maximum (4 bytes each, big-endian: a card may report
 * anything), then the new PIN and the old one as pieces. The verdict is checked against the
 * rules written out again here, and a refusal's message must not repeat the PIN. */
#include <string.h>

#include "fuzz.h"
#include "pin-policy.h"

static uint32_t u32(FuzzInput *in)
{
    uint32_t hi = fuzz_u16(in);
    return hi << 16 | fuzz_u16(in);
}

static bool all_same(const uint8_t *p, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (p[i] != p[0])
            return false;
    return true;
}

static bool digit_run(const uint8_t *p, size_t n, int step)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9' || (i > 0 && p[i] - p[i - 1] != step))
            return false;
    return true;
}

/* docs/decisions.md, "PIN policy: what counts as trivial", as a second implementation. */
static bool acceptable(const TkPinPolicy *p, uint32_t token_min, uint32_t token_max,
                       const TkSecret *pin, const TkSecret *old)
{
    const uint8_t *b = (const uint8_t *)pin->data;
    uint64_t min = p->site_min_length > token_min ? p->site_min_length : token_min;
    if (min == 0)
        min = 1;
    if (token_max > 0 && token_max < min)
        return false;
    if (pin->len < min || (token_max > 0 && pin->len > token_max))
        return false;
    if (p->reject_trivial && pin->len > 1 &&
        (all_same(b, pin->len) || digit_run(b, pin->len, 1) || digit_run(b, pin->len, -1)))
        return false;
    return !old || old->len != pin->len || memcmp(old->data, pin->data, pin->len) != 0;
}

/* A PIN that no message template could contain by chance: it has a byte outside the letters,
 * digits and punctuation the messages are written with. */
static bool distinctive(const TkSecret *pin)
{
    for (size_t i = 0; i < pin->len; i++) {
        unsigned char c = (unsigned char)pin->data[i];
        if (c >= 0x80 || strchr("!#$%&*@^~|{}<>?=", c))
            return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FuzzInput in = {data, size};
    TkPinPolicy policy = {.site_min_length = fuzz_u8(&in) % 65};
    uint8_t flags = fuzz_u8(&in);
    policy.reject_trivial = flags & 1;
    uint32_t token_min = u32(&in), token_max = u32(&in);
    const uint8_t *p = NULL, *o = NULL;
    size_t n = 0, on = 0;
    (void)fuzz_piece(&in, &p, &n);
    (void)fuzz_piece(&in, &o, &on);

    /* PINs arrive as options, which hold no NUL (and tk_secret_new() refuses one). */
    _cleanup_secret_ TkSecret *pin = NULL, *old = NULL;
    if (tk_secret_new(p, n, &pin) < 0)
        return 0;
    if ((flags & 2) && tk_secret_new(o, on, &old) < 0)
        return 0;

    TkError e = {};
    int r = tk_pin_policy_check(&policy, token_min, token_max, pin, old, &e);
    FUZZ_CHECK(r == 0 || r == -EKEYREJECTED);
    FUZZ_CHECK((r == 0) == acceptable(&policy, token_min, token_max, pin, old));
    if (r < 0) {
        FUZZ_CHECK(streq(e.name, TK_ERROR_PIN_POLICY) && e.message[0]);
        if (pin->len > 0 && distinctive(pin))
            FUZZ_CHECK(!strstr(e.message, pin->data));
    }
    return 0;
}
