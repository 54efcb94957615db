/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's log calls as they write to standard error: one "program: message" line, %m as the
 * errno given, -|error| returned, the level filter of TOKEND_LOG_LEVEL, errno left as it was,
 * and standard error kept when JOURNAL_STREAM names another file. Standard error is caught
 * through a pipe for each check. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "tk-test.h"

typedef struct {
    int saved_stderr;
    int read_end;
} Capture;

static void capture_start(Capture *c)
{
    int fds[2];
    ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
    c->saved_stderr = dup(STDERR_FILENO);
    ck_assert_int_ge(c->saved_stderr, 0);
    ck_assert_int_ge(dup2(fds[1], STDERR_FILENO), 0);
    close(fds[1]);
    c->read_end = fds[0];
}

/* Puts standard error back and returns what was written to it meanwhile. */
static char *capture_end(Capture *c)
{
    ck_assert_int_ge(dup2(c->saved_stderr, STDERR_FILENO), 0);
    close(c->saved_stderr);
    /* The pipe's only writer is closed now: the read ends at what the checks wrote. */
    size_t size = 0;
    char *text = NULL;
    FILE *out = open_memstream(&text, &size);
    ck_assert_ptr_nonnull(out);
    char chunk[4096];
    ssize_t n;
    while ((n = read(c->read_end, chunk, sizeof(chunk))) > 0)
        fwrite(chunk, 1, (size_t)n, out);
    ck_assert_int_eq(n, 0);
    fclose(out);
    close(c->read_end);
    return text;
}

static char *line_of(const char *message)
{
    char *s;
    ck_assert_int_ge(asprintf(&s, "%s: %s\n", program_invocation_short_name, message), 0);
    return s;
}

static void expect_output(const char *got, const char *message)
{
    _cleanup_free_ char *want = line_of(message);
    ck_assert_str_eq(got, want);
}

/* Each check starts from a known level and a standard error that is not the journal. */
static void with_level(const char *value)
{
    if (value)
        ck_assert_int_eq(setenv("TOKEND_LOG_LEVEL", value, 1), 0);
    else
        ck_assert_int_eq(unsetenv("TOKEND_LOG_LEVEL"), 0);
    ck_assert_int_eq(unsetenv("JOURNAL_STREAM"), 0);
    log_parse_environment();
}

START_TEST(a_message_is_one_line_after_the_program_name)
{
    Capture c;
    with_level(NULL);
    capture_start(&c);
    log_error("Cannot start a worker for token %s", "A1B2");
    _cleanup_free_ char *got = capture_end(&c);
    expect_output(got, "Cannot start a worker for token A1B2");
}
END_TEST

START_TEST(a_trailing_newline_is_not_doubled)
{
    Capture c;
    with_level(NULL);
    capture_start(&c);
    log_warning("pcscd is back\n");
    _cleanup_free_ char *got = capture_end(&c);
    expect_output(got, "pcscd is back");
}
END_TEST

START_TEST(a_long_message_is_cut_and_still_ends_its_line)
{
    char long_text[5000];
    memset(long_text, 'x', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';
    Capture c;
    with_level(NULL);
    capture_start(&c);
    log_error("%s", long_text);
    _cleanup_free_ char *got = capture_end(&c);
    size_t len = strlen(got);
    ck_assert_uint_eq(len, LINE_MAX);
    ck_assert_ptr_eq(strchr(got, '\n'), got + len - 1);
}
END_TEST

START_TEST(percent_m_is_the_error_given)
{
    Capture c;
    with_level(NULL);
    capture_start(&c);
    errno = EBADF;
    log_error_errno(-ENOENT, "Cannot open %s: %m", "tokend.conf");
    log_warning_errno(EACCES, "Cannot watch PC/SC readers: %m");
    _cleanup_free_ char *got = capture_end(&c);
    _cleanup_free_ char *first = NULL, *second = NULL;
    ck_assert_int_ge(asprintf(&first, "Cannot open tokend.conf: %s", strerror(ENOENT)), 0);
    ck_assert_int_ge(asprintf(&second, "Cannot watch PC/SC readers: %s", strerror(EACCES)), 0);
    _cleanup_free_ char *want_first = line_of(first), *want_second = line_of(second);
    _cleanup_free_ char *want = NULL;
    ck_assert_int_ge(asprintf(&want, "%s%s", want_first, want_second), 0);
    ck_assert_str_eq(got, want);
}
END_TEST

START_TEST(percent_m_without_an_error_is_the_callers_errno)
{
    Capture c;
    with_level(NULL);
    capture_start(&c);
    errno = EPERM;
    log_error("cannot run the worker %s: %m", "/nowhere");
    _cleanup_free_ char *got = capture_end(&c);
    _cleanup_free_ char *message = NULL;
    ck_assert_int_ge(asprintf(&message, "cannot run the worker /nowhere: %s", strerror(EPERM)), 0);
    expect_output(got, message);
}
END_TEST

START_TEST(the_errno_calls_return_the_negative_error)
{
    Capture c;
    with_level(NULL);
    capture_start(&c);
    ck_assert_int_eq(log_error_errno(-EIO, "a"), -EIO);
    ck_assert_int_eq(log_error_errno(EIO, "b"), -EIO);
    ck_assert_int_eq(log_warning_errno(-ENODEV, "c"), -ENODEV);
    ck_assert_int_eq(log_warning_errno(0, "d"), 0);
    /* Dropped by the filter, the error still comes back. */
    with_level("crit");
    ck_assert_int_eq(log_error_errno(-EBUSY, "e"), -EBUSY);
    ck_assert_int_eq(log_warning_errno(EBUSY, "f"), -EBUSY);
    _cleanup_free_ char *got = capture_end(&c);
    _cleanup_free_ char *a = line_of("a"), *b = line_of("b"), *c_ = line_of("c"), *d = line_of("d");
    _cleanup_free_ char *want = NULL;
    ck_assert_int_ge(asprintf(&want, "%s%s%s%s", a, b, c_, d), 0);
    ck_assert_str_eq(got, want);
}
END_TEST

START_TEST(info_is_the_default_maximum)
{
    Capture c;
    with_level(NULL);
    ck_assert_int_eq(log_get_max_level(), LOG_INFO);
    capture_start(&c);
    log_info("shown");
    log_debug("hidden");
    _cleanup_free_ char *got = capture_end(&c);
    expect_output(got, "shown");

    with_level("");
    ck_assert_int_eq(log_get_max_level(), LOG_INFO);
}
END_TEST

/* Logs one message at each level, named after it, and returns what reached standard error. */
static char *log_every_level(const char *level)
{
    Capture c;
    with_level(level);
    capture_start(&c);
    log_error("error");
    log_warning("warning");
    log_notice("notice");
    log_info("info");
    log_debug("debug");
    return capture_end(&c);
}

static char *lines_of(const char *const *messages)
{
    size_t size = 0;
    char *text = NULL;
    FILE *out = open_memstream(&text, &size);
    ck_assert_ptr_nonnull(out);
    for (const char *const *m = messages; *m; m++)
        fprintf(out, "%s: %s\n", program_invocation_short_name, *m);
    fclose(out);
    return text;
}

START_TEST(the_environment_sets_the_maximum_level_by_name_or_number)
{
    static const struct {
        const char *value;
        const char *shown[6];
    } cases[] = {
        {"debug", {"error", "warning", "notice", "info", "debug", NULL}},
        {"7", {"error", "warning", "notice", "info", "debug", NULL}},
        {"notice", {"error", "warning", "notice", NULL}},
        {"warning", {"error", "warning", NULL}},
        {"4", {"error", "warning", NULL}},
        {"err", {"error", NULL}},
        {"3", {"error", NULL}},
        {"emerg", {NULL}},
        {"0", {NULL}},
    };
    FOREACH_ARRAY (t, cases, ELEMENTSOF(cases)) {
        _cleanup_free_ char *got = log_every_level(t->value);
        _cleanup_free_ char *want = lines_of(t->shown);
        ck_assert_msg(streq(got, want), "TOKEND_LOG_LEVEL=%s: got \"%s\", expected \"%s\"",
                      t->value, got, want);
    }
}
END_TEST

START_TEST(level_names_and_numbers_are_read_exactly)
{
    ck_assert_int_eq(log_level_from_string("emerg"), LOG_EMERG);
    ck_assert_int_eq(log_level_from_string("alert"), LOG_ALERT);
    ck_assert_int_eq(log_level_from_string("crit"), LOG_CRIT);
    ck_assert_int_eq(log_level_from_string("err"), LOG_ERR);
    ck_assert_int_eq(log_level_from_string("warning"), LOG_WARNING);
    ck_assert_int_eq(log_level_from_string("notice"), LOG_NOTICE);
    ck_assert_int_eq(log_level_from_string("info"), LOG_INFO);
    ck_assert_int_eq(log_level_from_string("debug"), LOG_DEBUG);
    ck_assert_int_eq(log_level_from_string("5"), LOG_NOTICE);
    const char *refused[] = {NULL, "", "8", "-1", "07", " 3", "3 ", "infoo", "deb", "loud"};
    FOREACH_ARRAY (s, refused, ELEMENTSOF(refused))
        ck_assert_int_eq(log_level_from_string(*s), -EINVAL);
}
END_TEST

START_TEST(an_invalid_level_is_ignored_with_one_warning)
{
    Capture c;
    ck_assert_int_eq(unsetenv("JOURNAL_STREAM"), 0);
    ck_assert_int_eq(setenv("TOKEND_LOG_LEVEL", "loud", 1), 0);
    capture_start(&c);
    log_parse_environment();
    ck_assert_int_eq(log_get_max_level(), LOG_INFO);
    log_info("after");
    log_debug("hidden");
    log_warning("again");
    _cleanup_free_ char *got = capture_end(&c);
    const char *prefix = program_invocation_short_name;
    /* The warning names the variable and its value, then the messages follow at info. */
    ck_assert_msg(strncmp(got, prefix, strlen(prefix)) == 0, "%s", got);
    char *first_end = strchr(got, '\n');
    ck_assert_ptr_nonnull(first_end);
    *first_end = '\0';
    ck_assert_msg(strstr(got, "TOKEND_LOG_LEVEL=loud"), "%s", got);
    _cleanup_free_ char *rest = lines_of((const char *const[]){"after", "again", NULL});
    ck_assert_str_eq(first_end + 1, rest);
}
END_TEST

START_TEST(errno_is_left_as_it_was)
{
    Capture c;
    with_level(NULL);
    capture_start(&c);
    errno = EAGAIN;
    log_info("a");
    ck_assert_int_eq(errno, EAGAIN);
    log_debug("dropped");
    ck_assert_int_eq(errno, EAGAIN);
    log_error_errno(-ENOENT, "b: %m");
    ck_assert_int_eq(errno, EAGAIN);
    log_warning_errno(ENOMEM, "c: %m");
    ck_assert_int_eq(errno, EAGAIN);
    ck_assert_int_eq(setenv("TOKEND_LOG_LEVEL", "loud", 1), 0);
    log_parse_environment();
    ck_assert_int_eq(errno, EAGAIN);
    /* Nothing to write to: the failed write does not show either. */
    int saved = dup(STDERR_FILENO);
    close(STDERR_FILENO);
    errno = EINTR;
    log_error("lost");
    ck_assert_int_eq(errno, EINTR);
    dup2(saved, STDERR_FILENO);
    close(saved);
    free(capture_end(&c));
}
END_TEST

START_TEST(a_journal_stream_of_another_file_leaves_stderr)
{
    struct stat st;
    ck_assert_int_eq(stat("/dev/null", &st), 0);
    _cleanup_free_ char *elsewhere = NULL;
    ck_assert_int_ge(asprintf(&elsewhere, "%llu:%llu", (unsigned long long)st.st_dev,
                              (unsigned long long)st.st_ino),
                     0);
    const char *values[] = {elsewhere, "", "garbage", "1:", "12:34:56"};
    FOREACH_ARRAY (v, values, ELEMENTSOF(values)) {
        Capture c;
        with_level(NULL);
        ck_assert_int_eq(setenv("JOURNAL_STREAM", *v, 1), 0);
        capture_start(&c);
        log_warning("Scanner for %s stopped; restarting it", "/usr/lib/softhsm/libsofthsm2.so");
        _cleanup_free_ char *got = capture_end(&c);
        ck_assert_int_eq(unsetenv("JOURNAL_STREAM"), 0);
        expect_output(got, "Scanner for /usr/lib/softhsm/libsofthsm2.so stopped; restarting it");
    }
}
END_TEST

static Suite *log_suite(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("stderr");
    tcase_add_test(tc, a_message_is_one_line_after_the_program_name);
    tcase_add_test(tc, a_trailing_newline_is_not_doubled);
    tcase_add_test(tc, a_long_message_is_cut_and_still_ends_its_line);
    tcase_add_test(tc, percent_m_is_the_error_given);
    tcase_add_test(tc, percent_m_without_an_error_is_the_callers_errno);
    tcase_add_test(tc, the_errno_calls_return_the_negative_error);
    tcase_add_test(tc, errno_is_left_as_it_was);
    tcase_add_test(tc, a_journal_stream_of_another_file_leaves_stderr);
    tcase_set_timeout(tc, 10);
    suite_add_tcase(s, tc);

    tc = tcase_create("level");
    tcase_add_test(tc, info_is_the_default_maximum);
    tcase_add_test(tc, the_environment_sets_the_maximum_level_by_name_or_number);
    tcase_add_test(tc, level_names_and_numbers_are_read_exactly);
    tcase_add_test(tc, an_invalid_level_is_ignored_with_one_warning);
    tcase_set_timeout(tc, 10);
    suite_add_tcase(s, tc);
    return s;
}

TK_TEST_MAIN(log_suite())
