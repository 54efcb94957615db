/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a token, a card or a reader says in a string (a label, a serial, a reader name), on its
 * way into libtoken and out to a terminal: tk_p11_string() on the input as a PKCS#11 field,
 * tk_utf8_escape() and its inverse, tk_escape_for_terminal(), tk_utf8_whole_prefix(). The
 * input is the string's bytes. */
#include <string.h>

#include "fuzz.h"
#include "p11-internal.h"
#include "text-escape.h"

/* Nothing a terminal obeys: no C0 control, no DEL, no C1 control, and valid UTF-8. */
static void check_for_terminal(const char *s)
{
    FUZZ_CHECK(tk_utf8_is_valid(s, strlen(s)));
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        FUZZ_CHECK(*p >= 0x20 && *p != 0x7f);
        FUZZ_CHECK(!(p[0] == 0xc2 && p[1] >= 0x80 && p[1] < 0xa0));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;

    /* Escaped, it is valid UTF-8 that gives the bytes back; valid UTF-8 without a NUL or a
     * backslash is left as it is. */
    _cleanup_free_ char *escaped = NULL;
    FUZZ_CHECK(tk_utf8_escape(size > 0 ? s : "", size, &escaped) == 0);
    FUZZ_CHECK(tk_utf8_is_valid(escaped, strlen(escaped)));
    _cleanup_free_ char *back = NULL;
    size_t back_len = 0;
    FUZZ_CHECK(tk_utf8_unescape(escaped, &back, &back_len) == 0);
    FUZZ_CHECK(back_len == size && memcmp(back, data, size) == 0);
    if (tk_utf8_is_valid(s, size) && !memchr(data, '\\', size))
        FUZZ_CHECK(strlen(escaped) == size && memcmp(escaped, data, size) == 0);

    _cleanup_free_ char *terminal = NULL;
    FUZZ_CHECK(tk_escape_for_terminal(escaped, &terminal) == 0);
    check_for_terminal(terminal);

    /* A PKCS#11 field: up to the first NUL, without its trailing blanks, escaped. */
    _cleanup_free_ char *field = tk_p11_string(data, size);
    FUZZ_CHECK(field);
    size_t n = strnlen(s, size);
    while (n > 0 && s[n - 1] == ' ')
        n--;
    _cleanup_free_ char *field_bytes = NULL;
    size_t field_len = 0;
    FUZZ_CHECK(tk_utf8_unescape(field, &field_bytes, &field_len) == 0);
    FUZZ_CHECK(field_len == n && memcmp(field_bytes, data, n) == 0);

    /* Cut anywhere, the text stays valid UTF-8 when it was, and only ever gets shorter. */
    size_t len = strlen(escaped);
    for (size_t cut = 0; cut <= len; cut += 1 + cut / 4) {
        size_t k = tk_utf8_whole_prefix(escaped, cut);
        FUZZ_CHECK(k <= cut && tk_utf8_is_valid(escaped, k));
    }

    /* Any text, not only what tk_utf8_escape() wrote, unescapes or is refused. */
    _cleanup_free_ char *text = strndup(size > 0 ? s : "", size);
    FUZZ_CHECK(text);
    _cleanup_free_ char *raw = NULL;
    size_t raw_len = 0;
    if (tk_utf8_unescape(text, &raw, &raw_len) == 0)
        FUZZ_CHECK(raw_len <= strlen(text));
    return 0;
}
