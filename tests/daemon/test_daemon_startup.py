#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""tokend's command line: --version, --help, and a bad configuration stops start-up with the
file, line and key named."""

import os
import subprocess
import sys
import tempfile

from tap import Tap

TOKEND = os.path.join(os.environ["TOKEND_BUILD_DIR"], "daemon", "tokend")


def run(*args):
    return subprocess.run([TOKEND, *args], capture_output=True, text=True, timeout=10)


def version_prints_the_version():
    p = run("--version")
    assert p.returncode == 0 and p.stdout.startswith("tokend "), p


def help_lists_the_options():
    p = run("--help")
    assert p.returncode == 0, p
    for opt in ("--config", "--worker-path", "--worker-timeout", "--version"):
        assert opt in p.stdout, p.stdout


def bad_configuration_stops_start_up_naming_file_line_and_key():
    with tempfile.NamedTemporaryFile("w", suffix=".conf") as f:
        f.write("[Pin]\nMinLength=6\nRejectTrivial=perhaps\n")
        f.flush()
        p = run("--config", f.name)
    assert p.returncode != 0, p
    assert f"{f.name}:3:" in p.stderr and "RejectTrivial" in p.stderr, p.stderr


def unknown_option_is_a_usage_error():
    p = run("--frobnicate")
    assert p.returncode == 2, p


sys.exit(Tap([version_prints_the_version, help_lists_the_options,
              bad_configuration_stops_start_up_naming_file_line_and_key,
              unknown_option_is_a_usage_error]).run())
