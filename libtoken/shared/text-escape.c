/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <wctype.h>

#include <openssl/asn1.h>

#include "macro.h"
#include "text-escape.h"

/* The length of the valid UTF-8 sequence that starts at s, and its code point; 0 when the
 * byte there starts none. OpenSSL 3's UTF8_getc() refuses overlong forms, surrogates and code
 * points above U+10FFFF (tests/unit/test-text-escape.c holds it to that). */
static size_t utf8_sequence(const unsigned char *s, size_t len, unsigned long *ret_c)
{
    unsigned long c = 0;
    /* No sequence is longer than 4 bytes, so the int length cannot overflow. */
    int n = UTF8_getc(s, len < 4 ? (int)len : 4, &c);
    if (n <= 0)
        return 0;
    *ret_c = c;
    return (size_t)n;
}

static char *put_byte_escape(char *p, unsigned char b)
{
    static const char hex[] = "0123456789abcdef";
    *p++ = '\\';
    *p++ = 'x';
    *p++ = hex[b >> 4];
    *p++ = hex[b & 0xf];
    return p;
}

size_t tk_utf8_char_length(const char *s, size_t len)
{
    unsigned long c = 0;
    if (!s || len == 0)
        return 0;
    size_t n = utf8_sequence((const unsigned char *)s, len, &c);
    return n > 0 && c != 0 ? n : 0;
}

size_t tk_utf8_whole_prefix(const char *s, size_t len)
{
    size_t k = len;
    while (k > 0 && ((unsigned char)s[k - 1] & 0xc0) == 0x80)
        k--;
    if (k > 0 && tk_utf8_char_length(s + k - 1, len - k + 1) == 0)
        return k - 1;
    return len;
}

bool tk_utf8_is_valid(const char *s, size_t len)
{
    if (!s)
        return len == 0;
    for (size_t i = 0; i < len;) {
        size_t n = tk_utf8_char_length(s + i, len - i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

static bool is_control(unsigned long c)
{
    return c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0);
}

int tk_utf8_check_no_controls(const char *s, size_t len)
{
    if (!s)
        return len == 0 ? 0 : -EILSEQ;
    for (size_t i = 0; i < len;) {
        unsigned long c = 0;
        size_t n = utf8_sequence((const unsigned char *)s + i, len - i, &c);
        if (n == 0 || c == 0)
            return -EILSEQ;
        if (is_control(c))
            return -EINVAL;
        i += n;
    }
    return 0;
}

int tk_utf8_escape(const char *s, size_t len, char **ret)
{
    if ((!s && len > 0) || !ret)
        return -EINVAL;
    /* "\xNN" is the longest a byte becomes. */
    if (len > (SIZE_MAX - 1) / 4)
        return -ENOMEM;
    char *out = malloc(len * 4 + 1), *p = out;
    if (!out)
        return -ENOMEM;

    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        unsigned long c;
        size_t n = utf8_sequence(u + i, len - i, &c);
        if (n > 0 && c != 0 && c != '\\') {
            memcpy(p, u + i, n);
            p += n;
            i += n;
            continue;
        }
        /* One byte at a time: the bytes after a broken sequence may start a good one. */
        if (u[i] == '\\') {
            *p++ = '\\';
            *p++ = '\\';
        } else
            p = put_byte_escape(p, u[i]);
        i++;
    }
    *p = 0;
    *ret = out;
    return 0;
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int tk_utf8_unescape(const char *s, char **ret, size_t *ret_len)
{
    if (!s || !ret || !ret_len)
        return -EINVAL;
    _cleanup_free_ char *out = malloc(strlen(s) + 1);
    if (!out)
        return -ENOMEM;

    char *p = out;
    for (const char *q = s; *q;) {
        int hi, lo;
        if (*q != '\\')
            *p++ = *q++;
        else if (q[1] == '\\') {
            *p++ = '\\';
            q += 2;
        } else if (q[1] == 'x' && (hi = hex_digit(q[2])) >= 0 && (lo = hex_digit(q[3])) >= 0) {
            *p++ = (char)(hi << 4 | lo);
            q += 4;
        } else
            return -EINVAL;
    }
    *p = 0;
    *ret_len = (size_t)(p - out);
    *ret = TAKE_PTR(out);
    return 0;
}

int tk_escape_for_terminal(const char *s, char **ret)
{
    if (!s || !ret)
        return -EINVAL;
    size_t len = strlen(s);
    /* A byte becomes at most 4 ("\xNN"), a 2-byte C1 control 6 ("\u00NN"). */
    if (len > (SIZE_MAX - 1) / 4)
        return -ENOMEM;
    char *out = malloc(len * 4 + 1), *p = out;
    if (!out)
        return -ENOMEM;

    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        unsigned long c;
        size_t n = utf8_sequence(u + i, len - i, &c);
        if (n == 0 || c < 0x20 || c == 0x7f) {
            p = put_byte_escape(p, u[i]);
            i++;
        } else if (c >= 0x80 && c < 0xa0) {
            p += sprintf(p, "\\u%04lx", c);
            i += n;
        } else {
            memcpy(p, u + i, n);
            p += n;
            i += n;
        }
    }
    *p = 0;
    *ret = out;
    return 0;
}

/* Walks s (len bytes) and counts characters; < 0 when it is not valid UTF-8, holds a NUL or a
 * character that is not printable (a control character); *ret_blank says whether all were
 * spaces. glibc's decoder in its built-in C.UTF-8 locale refuses overlong forms, surrogates
 * and code points beyond U+10FFFF, and iswprint() knows which characters are printable. */
static int printable_walk(const char *s, size_t len, size_t *ret_chars, bool *ret_blank)
{
    locale_t l = newlocale(LC_ALL_MASK, "C.UTF-8", (locale_t)0), old;
    mbstate_t st = {};
    size_t chars = 0;
    bool blank = true;
    int r = 0;

    if (!l)
        return -ENOMEM;
    old = uselocale(l);
    while (len > 0) {
        wchar_t wc;
        size_t k = mbrtowc(&wc, s, len, &st);
        if (k == 0 || k == (size_t)-1 || k == (size_t)-2) {
            r = -EINVAL;
            break;
        }
        if (!iswprint((wint_t)wc)) {
            r = -EINVAL;
            break;
        }
        if (!iswspace((wint_t)wc))
            blank = false;
        chars++;
        s += k;
        len -= k;
    }
    uselocale(old);
    freelocale(l);
    if (r < 0)
        return r;
    *ret_chars = chars;
    *ret_blank = blank;
    return 0;
}

int tk_text_check(const char *s, size_t min_chars, size_t max_chars)
{
    size_t chars, len = strlen(s);
    bool blank;

    /* Four bytes a character at most: a longer string is refused before it is decoded. */
    if (len > 4 * max_chars)
        return -E2BIG;
    if (printable_walk(s, len, &chars, &blank) < 0)
        return -EINVAL;
    if (chars > max_chars)
        return -E2BIG;
    if (chars < min_chars || (min_chars > 0 && blank))
        return -ENODATA;
    return 0;
}
