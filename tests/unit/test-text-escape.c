/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "text-escape.h"
#include "tk-test.h"

static void expect_escape(const char *in, size_t len, const char *want)
{
    _cleanup_free_ char *out = NULL;
    ck_assert_int_eq(tk_utf8_escape(in, len, &out), 0);
    ck_assert_str_eq(out, want);
    ck_assert(tk_utf8_is_valid(out, strlen(out)));
}

static void expect_terminal(const char *in, const char *want)
{
    _cleanup_free_ char *out = NULL;
    ck_assert_int_eq(tk_escape_for_terminal(in, &out), 0);
    ck_assert_str_eq(out, want);
}

#define ESCAPE(lit, want) expect_escape(lit, sizeof(lit) - 1, want)

START_TEST(a_cut_never_ends_inside_a_character)
{
    /* "aé中": a, then é (2 bytes), then 中 (3 bytes). */
    const char *s = "a\xc3\xa9\xe4\xb8\xad";
    ck_assert_uint_eq(tk_utf8_whole_prefix(s, 0), 0);
    ck_assert_uint_eq(tk_utf8_whole_prefix(s, 1), 1);
    ck_assert_uint_eq(tk_utf8_whole_prefix(s, 2), 1);
    ck_assert_uint_eq(tk_utf8_whole_prefix(s, 3), 3);
    ck_assert_uint_eq(tk_utf8_whole_prefix(s, 4), 3);
    ck_assert_uint_eq(tk_utf8_whole_prefix(s, 5), 3);
    ck_assert_uint_eq(tk_utf8_whole_prefix(s, 6), 6);
}
END_TEST

START_TEST(valid_utf8_passes_unchanged)
{
    ESCAPE("Alice's token 01", "Alice's token 01");
    ESCAPE("Jo\xc3\xa3o Gon\xc3\xa7\x61lves", "Jo\xc3\xa3o Gon\xc3\xa7\x61lves");
    /* 中文令牌 */
    ESCAPE("\xe4\xb8\xad\xe6\x96\x87\xe4\xbb\xa4\xe7\x89\x8c",
           "\xe4\xb8\xad\xe6\x96\x87\xe4\xbb\xa4\xe7\x89\x8c");
    /* U+1F510 and the last code point, U+10FFFF. */
    ESCAPE("\xf0\x9f\x94\x90", "\xf0\x9f\x94\x90");
    ESCAPE("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf");
    /* Control characters are valid UTF-8: only the terminal variant touches them. */
    ESCAPE("\x1b[31m\a\n", "\x1b[31m\a\n");
    ESCAPE("", "");
    expect_escape(NULL, 0, "");
}
END_TEST

START_TEST(latin1_bytes_are_escaped)
{
    ESCAPE("Jo\xe3o", "Jo\\xe3o");
    ESCAPE("M\xfcller \xff", "M\\xfcller \\xff");
}
END_TEST

START_TEST(overlong_forms_are_escaped)
{
    ESCAPE("\xc0\xaf", "\\xc0\\xaf");
    ESCAPE("\xc1\xbf", "\\xc1\\xbf");
    ESCAPE("\xe0\x80\x80", "\\xe0\\x80\\x80");
    ESCAPE("\xf0\x80\x80\x80", "\\xf0\\x80\\x80\\x80");
}
END_TEST

START_TEST(surrogates_and_code_points_beyond_unicode_are_escaped)
{
    ESCAPE("\xed\xa0\x80", "\\xed\\xa0\\x80");
    ESCAPE("\xed\xbf\xbf", "\\xed\\xbf\\xbf");
    ESCAPE("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80");
    /* The old 5-byte form. */
    ESCAPE("\xf8\x88\x80\x80\x80", "\\xf8\\x88\\x80\\x80\\x80");
}
END_TEST

START_TEST(cut_sequences_and_stray_continuation_bytes_are_escaped)
{
    ESCAPE("ab\xe4\xb8", "ab\\xe4\\xb8");
    ESCAPE("\xe4\xb8z", "\\xe4\\xb8z");
    ESCAPE("\xf0\x9f\x94", "\\xf0\\x9f\\x94");
    ESCAPE("\x80", "\\x80");
    /* A broken sequence does not swallow the good one after it. */
    ESCAPE("\xe3\xc3\xa3", "\\xe3\xc3\xa3");
}
END_TEST

START_TEST(a_nul_within_len_is_escaped)
{
    expect_escape("a\0b", 3, "a\\x00b");
    expect_escape("\0", 1, "\\x00");
    /* len, not the NUL, ends the input. */
    expect_escape("abcdef", 3, "abc");
}
END_TEST

START_TEST(backslashes_are_doubled_so_escapes_cannot_be_forged)
{
    ESCAPE("a\\b", "a\\\\b");
    _cleanup_free_ char *text = NULL, *byte = NULL;
    ck_assert_int_eq(tk_utf8_escape("\\xe3", 4, &text), 0);
    ck_assert_int_eq(tk_utf8_escape("\xe3", 1, &byte), 0);
    ck_assert_str_eq(text, "\\\\xe3");
    ck_assert_str_eq(byte, "\\xe3");
}
END_TEST

START_TEST(validity)
{
    ck_assert(tk_utf8_is_valid("Jo\xc3\xa3o", 5));
    ck_assert(tk_utf8_is_valid("", 0));
    ck_assert(tk_utf8_is_valid(NULL, 0));
    ck_assert(!tk_utf8_is_valid("Jo\xe3o", 4));
    ck_assert(!tk_utf8_is_valid("\xc0\xaf", 2));
    ck_assert(!tk_utf8_is_valid("\xed\xa0\x80", 3));
    ck_assert(!tk_utf8_is_valid("ab\xe4\xb8", 4));
    ck_assert(!tk_utf8_is_valid("a\0b", 3));
}
END_TEST

static void expect_round_trip(const unsigned char *buf, size_t len)
{
    _cleanup_free_ char *escaped = NULL, *back = NULL;
    size_t back_len;
    ck_assert_int_eq(tk_utf8_escape((const char *)buf, len, &escaped), 0);
    ck_assert(tk_utf8_is_valid(escaped, strlen(escaped)));
    ck_assert_int_eq(tk_utf8_unescape(escaped, &back, &back_len), 0);
    ck_assert_uint_eq(back_len, len);
    ck_assert_mem_eq(back, buf, len);
}

START_TEST(character_length)
{
    ck_assert_uint_eq(tk_utf8_char_length("a", 1), 1);
    ck_assert_uint_eq(tk_utf8_char_length("\xc3\xa3o", 3), 2);
    ck_assert_uint_eq(tk_utf8_char_length("\xe4\xb8\xad", 3), 3);
    ck_assert_uint_eq(tk_utf8_char_length("\xf0\x9f\x94\x90", 4), 4);
    ck_assert_uint_eq(tk_utf8_char_length("\xe4\xb8\xad", 2), 0);
    ck_assert_uint_eq(tk_utf8_char_length("\xe3o", 2), 0);
    ck_assert_uint_eq(tk_utf8_char_length("\xed\xa0\x80", 3), 0);
    ck_assert_uint_eq(tk_utf8_char_length("\0", 1), 0);
    ck_assert_uint_eq(tk_utf8_char_length("a", 0), 0);
}
END_TEST

START_TEST(unescape_gives_the_bytes_back)
{
    unsigned char all[256];
    for (size_t i = 0; i < sizeof(all); i++)
        all[i] = (unsigned char)i;
    expect_round_trip(all, sizeof(all));

    /* Random runs of pieces that make valid sequences, broken ones and look-alike escapes. */
    static const unsigned char pieces[] = {0xc3, 0xa3, 0xe4, 0xb8, 0xad, '\\',
                                           'x',  '0',  0x80, 0xff, 0};
    srand(4711);
    for (int round = 0; round < 2000; round++) {
        unsigned char buf[24];
        size_t len = (size_t)(rand() % (int)sizeof(buf));
        for (size_t i = 0; i < len; i++)
            buf[i] = pieces[rand() % (int)sizeof(pieces)];
        expect_round_trip(buf, len);
    }
}
END_TEST

START_TEST(unescape_refuses_what_escape_never_writes)
{
    static const char *const bad[] = {"\\", "a\\q", "\\x", "\\x4", "\\x4g", "\\xE3"};
    for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
        char *out = (char *)"untouched";
        size_t len = 99;
        ck_assert_int_eq(tk_utf8_unescape(bad[i], &out, &len), -EINVAL);
        ck_assert_str_eq(out, "untouched");
        ck_assert_uint_eq(len, 99);
    }
}
END_TEST

START_TEST(terminal_gets_c0_controls_and_del_as_text)
{
    expect_terminal("\x1b[31mred", "\\x1b[31mred");
    expect_terminal("bell\a", "bell\\x07");
    expect_terminal("two\nlines\r", "two\\x0alines\\x0d");
    expect_terminal("\x01\x1f\t", "\\x01\\x1f\\x09");
    expect_terminal("del\x7f", "del\\x7f");
}
END_TEST

START_TEST(terminal_gets_c1_controls_by_code_point)
{
    expect_terminal("\xc2\x80", "\\u0080");
    expect_terminal("next\xc2\x85line", "next\\u0085line");
    expect_terminal("\xc2\x9b"
                    "31m",
                    "\\u009b31m");
    expect_terminal("\xc2\x9f", "\\u009f");
    /* The first character after them, NO-BREAK SPACE, is printable. */
    expect_terminal("\xc2\xa0", "\xc2\xa0");
}
END_TEST

START_TEST(terminal_gets_stray_bytes_as_text)
{
    /* A lone 0x9b is CSI to a terminal in 8-bit mode. */
    expect_terminal("\x9b"
                    "2J",
                    "\\x9b2J");
    expect_terminal("Jo\xe3o", "Jo\\xe3o");
}
END_TEST

START_TEST(terminal_passes_printable_text_and_backslashes)
{
    expect_terminal("Jo\xc3\xa3o", "Jo\xc3\xa3o");
    expect_terminal("\xe4\xb8\xad\xe6\x96\x87", "\xe4\xb8\xad\xe6\x96\x87");
    expect_terminal("Jo\\xe3o \\\\", "Jo\\xe3o \\\\");
    expect_terminal("CN=Jo\xc3\xa3o,O=Ag\\,ency", "CN=Jo\xc3\xa3o,O=Ag\\,ency");
    expect_terminal("", "");
}
END_TEST

START_TEST(no_controls_refuses_c0_del_and_c1_and_names_bad_utf8_apart)
{
    ck_assert_int_eq(tk_utf8_check_no_controls("123456", 6), 0);
    ck_assert_int_eq(tk_utf8_check_no_controls("p\xc3\xa4ss w\xe2\x82\xac", 10), 0);
    ck_assert_int_eq(tk_utf8_check_no_controls("", 0), 0);
    ck_assert_int_eq(tk_utf8_check_no_controls("1234\n", 5), -EINVAL);
    ck_assert_int_eq(tk_utf8_check_no_controls("12\x1b[0m", 6), -EINVAL);
    ck_assert_int_eq(tk_utf8_check_no_controls("\x07", 1), -EINVAL);
    ck_assert_int_eq(tk_utf8_check_no_controls("12\x7f", 3), -EINVAL);
    ck_assert_int_eq(tk_utf8_check_no_controls("12\xc2\x9b", 4), -EINVAL);
    ck_assert_int_eq(tk_utf8_check_no_controls("12\xc2\x85", 4), -EINVAL);
    /* U+00A0, the first character after the C1 block, passes. */
    ck_assert_int_eq(tk_utf8_check_no_controls("12\xc2\xa0", 4), 0);
    ck_assert_int_eq(tk_utf8_check_no_controls("12\0"
                                               "34",
                                               5),
                     -EILSEQ);
    ck_assert_int_eq(tk_utf8_check_no_controls("12\xff", 3), -EILSEQ);
    ck_assert_int_eq(tk_utf8_check_no_controls("\xc0\x8a", 2), -EILSEQ);
    ck_assert_int_eq(tk_utf8_check_no_controls("\xc3", 1), -EILSEQ);
}
END_TEST

static Suite *text_escape_suite(void)
{
    Suite *s = suite_create("text-escape");
    TCase *tc = tcase_create("utf8");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, valid_utf8_passes_unchanged);
    tcase_add_test(tc, latin1_bytes_are_escaped);
    tcase_add_test(tc, overlong_forms_are_escaped);
    tcase_add_test(tc, surrogates_and_code_points_beyond_unicode_are_escaped);
    tcase_add_test(tc, cut_sequences_and_stray_continuation_bytes_are_escaped);
    tcase_add_test(tc, a_nul_within_len_is_escaped);
    tcase_add_test(tc, backslashes_are_doubled_so_escapes_cannot_be_forged);
    tcase_add_test(tc, validity);
    tcase_add_test(tc, character_length);
    tcase_add_test(tc, unescape_gives_the_bytes_back);
    tcase_add_test(tc, unescape_refuses_what_escape_never_writes);
    tcase_add_test(tc, no_controls_refuses_c0_del_and_c1_and_names_bad_utf8_apart);
    suite_add_tcase(s, tc);

    tc = tcase_create("terminal");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, terminal_gets_c0_controls_and_del_as_text);
    tcase_add_test(tc, terminal_gets_c1_controls_by_code_point);
    tcase_add_test(tc, terminal_gets_stray_bytes_as_text);
    tcase_add_test(tc, terminal_passes_printable_text_and_backslashes);
    tcase_add_test(tc, a_cut_never_ends_inside_a_character);
    suite_add_tcase(s, tc);
    return s;
}

TK_TEST_MAIN(text_escape_suite())
