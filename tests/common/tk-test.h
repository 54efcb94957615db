/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <check.h>
#include <stdlib.h>

/* Exit code that makes meson report a test as skipped. */
#define TK_TEST_SKIP 77

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

#define TK_TEST_MAIN(...)                                               \
    int main(void)                                                      \
    {                                                                   \
        Suite *suites[] = {__VA_ARGS__};                                \
        return tk_test_run(suites, sizeof(suites) / sizeof(suites[0])); \
    }
