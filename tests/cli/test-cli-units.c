/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

#include "bus-json.h"
#include "format.h"
#include "json-output.h"
#include "pin-input.h"
#include "resolve.h"
#include "table.h"
#include "tk-test.h"

/* 2026-11-25 12:00:00 UTC */
#define NOW ((time_t)1795608000)
#define DAY 86400

static const char *pin_state(const char *state, int retries, const char *source)
{
    static char buf[160];
    ck_assert_int_eq(format_pin_state(state, retries, source, buf, sizeof(buf)), 0);
    return buf;
}

START_TEST(pin_state_texts_say_what_a_holder_needs_to_know)
{
    ck_assert_str_eq(pin_state("ok", -1, "flags"), "ok (flags)");
    ck_assert_str_eq(pin_state("ok", 3, "card"), "ok, 3 tries left (card)");
    ck_assert_str_eq(pin_state("count-low", 2, "card"), "2 tries left (card)");
    ck_assert_str_eq(pin_state("count-low", 1, "card"), "final try (card)");
    ck_assert_str_eq(pin_state("final-try", 1, "card"), "final try (card)");
    ck_assert_str_eq(pin_state("locked", 0, "card"),
                     "LOCKED — needs unblock at the helpdesk (card)");
    ck_assert_str_eq(pin_state("to-be-changed", -1, "flags"), "must be changed before use");
    ck_assert_str_eq(pin_state(NULL, -1, NULL), "unknown");
}
END_TEST

START_TEST(pin_state_always_names_the_source)
{
    ck_assert_str_eq(pin_state("final-try", -1, "flags"), "final try (flags)");
    ck_assert_str_eq(pin_state("count-low", -1, "flags"), "few tries left (flags)");
    ck_assert_str_eq(pin_state("count-low", 2, "ledger"), "2 tries left (ledger)");
    ck_assert_str_eq(pin_state("ok", 3, "card"), "ok, 3 tries left (card)");
    ck_assert_str_eq(pin_state("ok", -1, "unknown"), "ok (unknown)");
    ck_assert_str_eq(pin_state("locked", 0, "flags"),
                     "LOCKED — needs unblock at the helpdesk (flags)");
}
END_TEST

START_TEST(pin_state_refuses_a_short_buffer)
{
    char small[8];
    ck_assert_int_lt(format_pin_state("locked", 0, "card", small, sizeof(small)), 0);
    ck_assert_int_eq(pin_state_severity("locked"), 2);
    ck_assert_int_eq(pin_state_severity("final-try"), 1);
    ck_assert_int_eq(pin_state_severity("ok"), 0);
}
END_TEST

static const char *expiry(uint64_t not_after)
{
    static char buf[96];
    ck_assert_int_eq(format_expiry(not_after, NOW, buf, sizeof(buf)), 0);
    return buf;
}

START_TEST(expiry_text_gives_date_and_days)
{
    ck_assert_str_eq(expiry((uint64_t)NOW + 96 * DAY), "expires 2027-03-01, in 96 days");
    ck_assert_str_eq(expiry((uint64_t)NOW + DAY + 5), "expires 2026-11-26, in 1 day");
    ck_assert_str_eq(expiry((uint64_t)NOW + 3600), "expires 2026-11-25, today");
    ck_assert_str_eq(expiry((uint64_t)NOW - 3 * DAY), "EXPIRED 3 days ago (2026-11-22)");
    ck_assert_str_eq(expiry((uint64_t)NOW - DAY), "EXPIRED 1 day ago (2026-11-24)");
    ck_assert_str_eq(expiry((uint64_t)NOW - 60), "EXPIRED today (2026-11-25)");
    ck_assert(expiry_is_past((uint64_t)NOW, NOW));
    ck_assert(!expiry_is_past((uint64_t)NOW + 1, NOW));
}
END_TEST

START_TEST(expiry_warning_follows_the_threshold)
{
    ck_assert_int_eq(expiry_severity((uint64_t)NOW - 1, NOW, 30), 2);
    ck_assert_int_eq(expiry_severity((uint64_t)NOW + 20 * DAY, NOW, 30), 1);
    ck_assert_int_eq(expiry_severity((uint64_t)NOW + 30 * DAY - 1, NOW, 30), 1);
    ck_assert_int_eq(expiry_severity((uint64_t)NOW + 30 * DAY, NOW, 30), 0);
    ck_assert_int_eq(expiry_severity((uint64_t)NOW + 20 * DAY, NOW, 10), 0);
    ck_assert_int_eq(expiry_severity((uint64_t)NOW + 60, NOW, 0), 0);
}
END_TEST

START_TEST(exit_codes_follow_the_error_class)
{
    ck_assert_int_eq(exit_code_for_error("org.freedesktop.DBus.Error.AccessDenied"), 3);
    ck_assert_int_eq(
        exit_code_for_error("org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"), 3);
    ck_assert_int_eq(exit_code_for_error("org.tokend.Tokend1.Error.TokenNotFound"), 4);
    ck_assert_int_eq(exit_code_for_error("org.tokend.Tokend1.Error.TokenRemoved"), 4);
    ck_assert_int_eq(exit_code_for_error("org.tokend.Tokend1.Error.PinIncorrect"), 5);
    ck_assert_int_eq(exit_code_for_error("org.tokend.Tokend1.Error.PinLocked"), 6);
    ck_assert_int_eq(exit_code_for_error("org.tokend.Tokend1.Error.PinPolicy"), 7);
    ck_assert_int_eq(exit_code_for_error("org.tokend.Tokend1.Error.SoPinFinalTry"), 7);
    ck_assert_int_eq(exit_code_for_error("org.tokend.Tokend1.Error.Failed"), 1);
    ck_assert_int_eq(exit_code_for_error("org.tokend.Tokend1.Error.Duplicate"), 1);
    ck_assert_int_eq(exit_code_for_error(CLI_ERROR_USAGE), 2);
    ck_assert_int_eq(exit_code_for_error(CLI_ERROR_AMBIGUOUS), 2);
    ck_assert_int_eq(exit_code_for_error(CLI_ERROR_NO_TOKEN), 4);
    ck_assert_int_eq(exit_code_for_error(CLI_ERROR_AUDIT_BROKEN), 8);
    ck_assert_int_eq(exit_code_for_error(NULL), 1);
}
END_TEST

START_TEST(hex_ids_round_trip)
{
    uint8_t *p = NULL;
    size_t n = 0;

    ck_assert_int_eq(parse_hex("0A:1b", &p, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(p[0], 0x0a);
    ck_assert_uint_eq(p[1], 0x1b);
    char *s = hex_string(p, n);
    ck_assert_str_eq(s, "0a1b");
    free(s);
    free(p);
    ck_assert_int_eq(parse_hex("0x45", &p, &n), 0);
    ck_assert_uint_eq(p[0], 0x45);
    free(p);
    ck_assert_int_eq(parse_hex("abc", &p, &n), -EINVAL);
    ck_assert_int_eq(parse_hex("zz", &p, &n), -EINVAL);
    ck_assert_int_eq(parse_hex("", &p, &n), -EINVAL);
}
END_TEST

static json_object *token(const char *serial, const char *label, const char *reader)
{
    json_object *t = json_object_new_object();
    char path[128];
    snprintf(path, sizeof(path), "/org/tokend/Tokend1/token/%s", serial);
    json_object_object_add(t, "path", json_object_new_string(path));
    json_object_object_add(t, "Serial", json_object_new_string(serial));
    json_object_object_add(t, "Label", json_object_new_string(label));
    json_object_object_add(t, "Reader", json_object_new_string(reader));
    return t;
}

START_TEST(token_names_resolve_by_serial_label_reader_and_path)
{
    _cleanup_json_ json_object *tokens = json_object_new_array();

    ck_assert_int_eq(match_token(tokens, NULL), -ENOENT);
    json_object_array_add(tokens, token("A1", "Jane", "Reader 0"));
    ck_assert_int_eq(match_token(tokens, NULL), 0);
    json_object_array_add(tokens, token("B2", "Office", "Reader 1"));
    json_object_array_add(tokens, token("C3", "Office", "Reader 2"));

    ck_assert_int_eq(match_token(tokens, NULL), -ENOTUNIQ);
    ck_assert_int_eq(match_token(tokens, "B2"), 1);
    ck_assert_int_eq(match_token(tokens, "Jane"), 0);
    ck_assert_int_eq(match_token(tokens, "Reader 2"), 2);
    ck_assert_int_eq(match_token(tokens, "/org/tokend/Tokend1/token/C3"), 2);
    ck_assert_int_eq(match_token(tokens, "Office"), -ENOTUNIQ);
    ck_assert_int_eq(match_token(tokens, "nobody"), -ENOENT);
}
END_TEST

START_TEST(table_aligns_columns_by_characters_not_bytes)
{
    static const char *const headers[] = {"A", "STATE"};
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    Table *t = table_new(2, headers);

    table_add(t, "LOCKED — x");
    table_add(t, "1");
    table_add(t, "ok");
    table_add(t, "2");
    ck_assert_uint_eq(table_rows(t), 2);
    ck_assert_int_eq(table_print(t, f, false, true), 0);
    fclose(f);
    ck_assert_str_eq(buf, "A           STATE\n"
                          "LOCKED — x  1\n"
                          "ok          2\n");
    free(buf);
    table_free(t);
}
END_TEST

START_TEST(table_aligns_wide_characters_by_their_columns)
{
    /* A label in Chinese: each character takes two columns on a terminal. */
    ck_assert_ptr_nonnull(setlocale(LC_CTYPE, "C.UTF-8"));
    static const char *const headers[] = {"LABEL", "X"};
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    Table *t = table_new(2, headers);

    table_add(t, "\xe6\xbe\xb3\xe9\x96\x80\xe8\xad\x89\xe4\xbb\xb6"); /* 澳門證件 */
    table_add(t, "1");
    table_add(t, "Macau ID");
    table_add(t, "2");
    ck_assert_int_eq(table_print(t, f, false, true), 0);
    fclose(f);
    ck_assert_uint_eq(display_width("\xe6\xbe\xb3\xe9\x96\x80"), 4);
    ck_assert_str_eq(buf, "LABEL     X\n"
                          "\xe6\xbe\xb3\xe9\x96\x80\xe8\xad\x89\xe4\xbb\xb6  1\n"
                          "Macau ID  2\n");
    free(buf);
    table_free(t);
    setlocale(LC_CTYPE, "C");
}
END_TEST

START_TEST(table_shows_control_characters_as_text_and_aligns_by_what_is_shown)
{
    static const char *const headers[] = {"LABEL", "X"};
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    Table *t = table_new(2, headers);

    table_add(t, "\x1b[31mred");
    table_add(t, "1");
    table_add(t, "Jo\\xe3o");
    table_add(t, "2");
    ck_assert_int_eq(table_print(t, f, false, true), 0);
    fclose(f);
    ck_assert_str_eq(buf, "LABEL        X\n"
                          "\\x1b[31mred  1\n"
                          "Jo\\xe3o      2\n");
    free(buf);
    table_free(t);
}
END_TEST

START_TEST(table_without_legend_leaves_out_the_headings_and_their_width)
{
    static const char *const headers[] = {"A LONG HEADING", "X"};
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    Table *t = table_new(2, headers);

    table_add(t, "one");
    table_add(t, "1");
    ck_assert_int_eq(table_print(t, f, false, false), 0);
    fclose(f);
    ck_assert_str_eq(buf, "one  1\n");
    free(buf);
    table_free(t);
}
END_TEST

START_TEST(terminal_text_never_gives_back_a_control_character)
{
    _cleanup_free_ char *b = NULL;
    ck_assert_str_eq(terminal_text("a\a\nb\xc2\x85", &b), "a\\x07\\x0ab\\u0085");
    ck_assert_str_eq(terminal_text("Jo\xc3\xa3o", &b), "Jo\xc3\xa3o");
    ck_assert_str_eq(terminal_text(NULL, &b), "");
}
END_TEST

START_TEST(json_for_terminal_escapes_del_and_c1_and_stays_the_same_json)
{
    const char *in = "{\"label\":\"a\x7f\xc2\x9b"
                     "31m\xc2\xa0\xe4\xb8\xad\"}";
    _cleanup_free_ char *out = NULL;
    ck_assert_int_eq(json_text_for_terminal(in, &out), 0);
    ck_assert_str_eq(out, "{\"label\":\"a\\u007f\\u009b31m\xc2\xa0\xe4\xb8\xad\"}");
    json_object *a = json_tokener_parse(in), *b = json_tokener_parse(out);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert(json_object_equal(a, b));
    json_object_put(a);
    json_object_put(b);
}
END_TEST

static TkSecret *read_pin_file(const char *path)
{
    TkSecret *s = NULL;
    ck_assert_int_eq(pin_read_file(path, &s), 0);
    return s;
}

START_TEST(pin_file_takes_the_first_line_without_newline)
{
    char path[] = "/tmp/tokenctl-pin-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "123456\r\nsecond\n", 15), 15);
    close(fd);

    TkSecret *s = read_pin_file(path);
    ck_assert_uint_eq(s->len, 6);
    ck_assert_str_eq(s->data, "123456");
    tk_secret_free(s);

    fd = open(path, O_WRONLY | O_TRUNC);
    ck_assert_int_eq(write(fd, "\n", 1), 1);
    close(fd);
    ck_assert_int_eq(pin_read_file(path, &s), -ENODATA);
    unlink(path);
    ck_assert_int_eq(pin_read_file(path, &s), -ENOENT);
}
END_TEST

START_TEST(pin_file_reads_dev_fd_and_stdin)
{
    int p[2];
    char name[32];
    TkSecret *s;

    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(write(p[1], "4321", 4), 4);
    close(p[1]);
    snprintf(name, sizeof(name), "/dev/fd/%d", p[0]);
    s = read_pin_file(name);
    ck_assert_str_eq(s->data, "4321");
    tk_secret_free(s);
    close(p[0]);

    /* Two options reading "-" take successive lines of standard input. */
    int saved = dup(STDIN_FILENO);
    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(write(p[1], "111222\n333444\n", 14), 14);
    close(p[1]);
    ck_assert_int_eq(dup2(p[0], STDIN_FILENO), STDIN_FILENO);
    close(p[0]);
    s = read_pin_file("-");
    ck_assert_str_eq(s->data, "111222");
    tk_secret_free(s);
    s = read_pin_file("-");
    ck_assert_str_eq(s->data, "333444");
    tk_secret_free(s);
    dup2(saved, STDIN_FILENO);
    close(saved);
}
END_TEST

START_TEST(bus_values_become_json)
{
    sd_bus *bus = NULL;
    sd_bus_message *m = NULL;
    json_object *o = NULL;
    static const uint8_t id[] = {0x0a, 0xff};

    int sv[2];

    /* A message needs a bus that has been started; a socketpair nobody answers will do. */
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    ck_assert_int_eq(sd_bus_new(&bus), 0);
    ck_assert_int_ge(sd_bus_set_fd(bus, sv[0], sv[0]), 0);
    ck_assert_int_ge(sd_bus_start(bus), 0);
    ck_assert_int_ge(sd_bus_message_new_method_call(bus, &m, "a.b", "/a", "a.b", "M"), 0);
    ck_assert_int_ge(sd_bus_message_open_container(m, 'a', "{sv}"), 0);
    ck_assert_int_ge(sd_bus_message_append(m, "{sv}", "label", "s", "Jane"), 0);
    ck_assert_int_ge(sd_bus_message_append(m, "{sv}", "bits", "u", 2048), 0);
    ck_assert_int_ge(sd_bus_message_append(m, "{sv}", "not-after", "t", (uint64_t)1 << 40), 0);
    ck_assert_int_ge(sd_bus_message_open_container(m, 'e', "sv"), 0);
    ck_assert_int_ge(sd_bus_message_append(m, "s", "id"), 0);
    ck_assert_int_ge(sd_bus_message_open_container(m, 'v', "ay"), 0);
    ck_assert_int_ge(sd_bus_message_append_array(m, 'y', id, sizeof(id)), 0);
    ck_assert_int_ge(sd_bus_message_close_container(m), 0);
    ck_assert_int_ge(sd_bus_message_close_container(m), 0);
    ck_assert_int_ge(sd_bus_message_append(m, "{sv}", "tokens", "ao", 2, "/t/1", "/t/2"), 0);
    ck_assert_int_ge(sd_bus_message_close_container(m), 0);
    ck_assert_int_ge(sd_bus_message_seal(m, 1, 0), 0);
    ck_assert_int_ge(sd_bus_message_rewind(m, true), 0);

    ck_assert_int_eq(bus_message_read_json(m, &o), 0);
    ck_assert_str_eq(json_get_string(o, "label"), "Jane");
    ck_assert_int_eq(json_get_int(o, "bits", 0), 2048);
    ck_assert_int_eq(json_get_int(o, "not-after", 0), (int64_t)1 << 40);
    ck_assert_str_eq(json_get_string(o, "id"), "0aff");
    json_object *a;
    ck_assert(json_object_object_get_ex(o, "tokens", &a));
    ck_assert_uint_eq(json_object_array_length(a), 2);
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(a, 1)), "/t/2");

    json_object_put(o);
    sd_bus_message_unref(m);
    sd_bus_close_unref(bus);
    close(sv[1]);
}
END_TEST

START_TEST(timestamps_are_rfc3339_utc_with_microseconds)
{
    char buf[40];

    ck_assert_int_eq(format_timestamp_usec((uint64_t)NOW * 1000000 + 42, buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "2026-11-25T12:00:00.000042Z");
    ck_assert_int_eq(format_timestamp_usec(999999, buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "1970-01-01T00:00:00.999999Z");
    ck_assert_int_eq(format_timestamp_usec(0, buf, 27), -ENOBUFS);
}
END_TEST

START_TEST(json_modes_follow_systemd_and_bare_json_depends_on_the_terminal)
{
    bool json = false, pretty = false;

    ck_assert_int_eq(json_mode_parse(NULL, true, &json, &pretty), 0);
    ck_assert(json && pretty);
    ck_assert_int_eq(json_mode_parse(NULL, false, &json, &pretty), 0);
    ck_assert(json && !pretty);
    ck_assert_int_eq(json_mode_parse("pretty", false, &json, &pretty), 0);
    ck_assert(json && pretty);
    ck_assert_int_eq(json_mode_parse("short", true, &json, &pretty), 0);
    ck_assert(json && !pretty);
    ck_assert_int_eq(json_mode_parse("off", true, &json, &pretty), 0);
    ck_assert(!json && !pretty);
    json = pretty = true;
    ck_assert_int_eq(json_mode_parse("", true, &json, &pretty), -EINVAL);
    ck_assert_int_eq(json_mode_parse("Pretty", true, &json, &pretty), -EINVAL);
    ck_assert(json && pretty); /* untouched on error */
}
END_TEST

START_TEST(error_document_has_name_message_and_exit_code)
{
    json_object *doc = json_error_new("org.tokend.tokenctl.Error.Usage", NULL, 2), *e;

    ck_assert(json_object_object_get_ex(doc, "error", &e));
    ck_assert_int_eq(json_object_object_length(doc), 1);
    ck_assert_int_eq(json_object_object_length(e), 3);
    ck_assert_str_eq(json_get_string(e, "name"), "org.tokend.tokenctl.Error.Usage");
    ck_assert_str_eq(json_get_string(e, "message"), "");
    ck_assert_int_eq(json_get_int(e, "exit-code", -1), 2);
    json_object_put(doc);
}
END_TEST

static Suite *format_suite(void)
{
    Suite *s = suite_create("format");
    TCase *tc = tcase_create("text");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, pin_state_texts_say_what_a_holder_needs_to_know);
    tcase_add_test(tc, pin_state_always_names_the_source);
    tcase_add_test(tc, pin_state_refuses_a_short_buffer);
    tcase_add_test(tc, expiry_text_gives_date_and_days);
    tcase_add_test(tc, expiry_warning_follows_the_threshold);
    tcase_add_test(tc, exit_codes_follow_the_error_class);
    tcase_add_test(tc, hex_ids_round_trip);
    tcase_add_test(tc, table_aligns_columns_by_characters_not_bytes);
    tcase_add_test(tc, table_aligns_wide_characters_by_their_columns);
    tcase_add_test(tc, table_shows_control_characters_as_text_and_aligns_by_what_is_shown);
    tcase_add_test(tc, table_without_legend_leaves_out_the_headings_and_their_width);
    tcase_add_test(tc, terminal_text_never_gives_back_a_control_character);
    tcase_add_test(tc, json_for_terminal_escapes_del_and_c1_and_stays_the_same_json);
    tcase_add_test(tc, timestamps_are_rfc3339_utc_with_microseconds);
    tcase_add_test(tc, json_modes_follow_systemd_and_bare_json_depends_on_the_terminal);
    tcase_add_test(tc, error_document_has_name_message_and_exit_code);
    suite_add_tcase(s, tc);
    return s;
}

static Suite *input_suite(void)
{
    Suite *s = suite_create("input");
    TCase *tc = tcase_create("input");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, token_names_resolve_by_serial_label_reader_and_path);
    tcase_add_test(tc, pin_file_takes_the_first_line_without_newline);
    tcase_add_test(tc, pin_file_reads_dev_fd_and_stdin);
    tcase_add_test(tc, bus_values_become_json);
    suite_add_tcase(s, tc);
    return s;
}

TK_TEST_MAIN(format_suite(), input_suite())
