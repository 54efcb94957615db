/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

/* Exit code that makes meson report a non-TAP program (a benchmark) as skipped. */
#define TK_TEST_SKIP 77

/* Skips a whole TAP test program: meson counts a "1..0 # SKIP" plan as skipped, but any
 * non-zero exit status of a TAP test as an error, 77 included. */
static inline _Noreturn void tk_test_skip_all(const char *why)
{
    printf("1..0 # SKIP %s\n", why);
    fflush(stdout);
    exit(EXIT_SUCCESS);
}

/* Runs the given suites with TAP output on standard output, as meson's "tap" protocol wants. */
static inline int tk_test_run(Suite **suites, size_t n)
{
    SRunner *sr = srunner_create(suites[0]);
    for (size_t i = 1; i < n; i++)
        srunner_add_suite(sr, suites[i]);
    srunner_set_tap(sr, "-");
    srunner_run_all(sr, CK_SILENT);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* A test program that needs something this machine may lack: unavailable() returns why, or NULL
 * when the tests can run. */
#define TK_TEST_MAIN_UNLESS(unavailable, ...)                           \
    int main(void)                                                      \
    {                                                                   \
        const char *why = unavailable();                                \
        if (why)                                                        \
            tk_test_skip_all(why);                                      \
        Suite *suites[] = {__VA_ARGS__};                                \
        return tk_test_run(suites, sizeof(suites) / sizeof(suites[0])); \
    }

#define TK_TEST_MAIN(...)                                               \
    int main(void)                                                      \
    {                                                                   \
        Suite *suites[] = {__VA_ARGS__};                                \
        return tk_test_run(suites, sizeof(suites) / sizeof(suites[0])); \
    }
