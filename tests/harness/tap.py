# SPDX-License-Identifier: LGPL-2.1-or-later
"""TAP output for the Python tests: one line per test function, and skipping as meson sees it."""

import sys
import time

# The exit status that meson's exit-code protocol (benchmarks, tokend-test-env without --tap)
# reports as skipped.
SKIP = 77


def skip(why):
    """Skips the whole test program. Meson's TAP protocol reports a plan of 1..0 with SKIP as
    skipped, but any non-zero exit status as an error, 77 included: so exit 0 here."""
    print(f"1..0 # SKIP {why}")
    sys.stdout.flush()
    sys.exit(0)


class Tap:
    """Runs test functions and prints TAP, one line each, going on after a failure."""

    def __init__(self, tests):
        self.tests = tests

    def run(self):
        print(f"1..{len(self.tests)}")
        failed = 0
        for i, t in enumerate(self.tests, 1):
            start = time.monotonic()
            try:
                t()
                print(f"ok {i} - {t.__name__} ({time.monotonic() - start:.2f} s)")
            except SystemExit:
                raise
            except BaseException as e:  # report and go on with the next test
                failed += 1
                print(f"not ok {i} - {t.__name__}")
                for line in f"{type(e).__name__}: {e}".splitlines():
                    print(f"# {line}")
            sys.stdout.flush()
        return 1 if failed else 0


def run_and_close(tests, get_env):
    """Runs the tests, then closes the environment that get_env() gives (None when the first
    test did not get to start one); exits 1 when a test failed or its shutdown was not clean."""
    try:
        rc = Tap(tests).run()
    finally:
        env = get_env()
        if env:
            env.close()
    sys.exit(1 if rc or (env and env.failed_shutdown) else 0)
