/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Strings from tokens, cards and readers are data, not text anyone vouched for: a label may be
 * Latin-1, hold a NUL or carry terminal control sequences. D-Bus carries only valid UTF-8 and
 * a terminal obeys what it is sent, so such strings pass through these on their way. */

/* The length of the UTF-8 character that s[0..len) starts with; 0 when it starts with none (a
 * stray byte, an overlong form, a surrogate, a cut sequence) or with a NUL. */
size_t tk_utf8_char_length(const char *s, size_t len);

/* For text cut short at len bytes: the length of its longest prefix that does not end inside a
 * UTF-8 character (len when it does not), so that what is kept is still valid UTF-8. */
size_t tk_utf8_whole_prefix(const char *s, size_t len);

/* Whether s[0..len) is UTF-8 that D-Bus accepts: no overlong forms, no surrogates, nothing
 * above U+10FFFF, no sequence cut short, no NUL. */
bool tk_utf8_is_valid(const char *s, size_t len);

/* Whether s[0..len) is valid UTF-8 (as tk_utf8_is_valid()) with no control character in it:
 * no C0 control (U+0000..U+001F), DEL or C1 control (U+0080..U+009F). -EILSEQ when it is not
 * valid UTF-8 or holds a NUL, -EINVAL for another control character. Every other character
 * passes, printable or not: for a PIN or a decoded value, which are bytes rather than a field
 * of text (tk_text_check() is for those). */
int tk_utf8_check_no_controls(const char *s, size_t len);

/* A NUL-terminated copy of s[0..len) that is always valid UTF-8: every byte that is not part
 * of a valid UTF-8 sequence, and every NUL, is written as "\xNN" (lower-case hex), and a
 * backslash as "\\", so the result tells the original bytes apart (tk_utf8_unescape() gives
 * them back). Valid UTF-8 without a backslash comes back unchanged. -ENOMEM, or -EINVAL for a
 * NULL s with len > 0. */
int tk_utf8_escape(const char *s, size_t len, char **ret);

/* The bytes tk_utf8_escape() was given: "\\" and "\xNN" (lower-case hex) undone, in a
 * NUL-terminated buffer of *ret_len bytes (the terminator not counted; the bytes may hold a
 * NUL of their own). -EINVAL for a backslash that starts neither. */
int tk_utf8_unescape(const char *s, char **ret, size_t *ret_len);

/* The text a person's terminal is sent: C0 controls (U+0000..U+001F) and DEL as "\xNN", C1
 * controls (U+0080..U+009F) by code point as "\u00NN" (a C1 control is a valid character,
 * not a stray byte, and some terminals obey it), and any byte that is not valid UTF-8 as
 * "\xNN". Everything else passes unchanged, backslashes included: strings from tokend already
 * have theirs doubled by tk_utf8_escape(), so "\x1b" printed came from an ESC, and "\\x1b" from
 * the text. */
int tk_escape_for_terminal(const char *s, char **ret);

/* Whether s is text a person typed for a field of min_chars..max_chars characters: valid
 * UTF-8, every character printable (no control characters) and, with min_chars > 0, not all
 * blank. -E2BIG when too long, -ENODATA when too short or blank, -EINVAL otherwise. tokend
 * checks options and arguments with it, tokenctl what it is about to send. */
int tk_text_check(const char *s, size_t min_chars, size_t max_chars);
