#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The man pages list the options the programs take: every option in `tokend --help` is in
tokend(8)'s OPTIONS and every option there is in --help; every option `tokenctl --help` or a
command's `--help` names is in tokenctl(1), and every option tokenctl(1) describes is in some
--help. An option added to a program and not to its manual (or the other way round) fails."""

import os
import re
import subprocess
import sys

from tap import Tap

BUILD = os.environ["TOKEND_BUILD_DIR"]
SOURCE = os.environ["TOKEND_SOURCE_DIR"]
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
VERBS = ["list", "status", "objects", "keygen", "csr", "import-cert", "change-pin", "unblock",
         "init", "delete", "monitor", "audit"]


def help_options(*argv):
    p = subprocess.run(list(argv), capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, (argv, p.stdout, p.stderr)
    return set(OPTION.findall(p.stdout))


def man_section(page, title):
    """The text of one section (# TITLE) of an scdoc page."""
    with open(os.path.join(SOURCE, "docs", page)) as f:
        text = f.read()
    m = re.search(rf"^# {title}\n(.*?)(?=^# |\Z)", text, re.M | re.S)
    assert m, f"{page} has no {title} section"
    return m.group(1)


def described(text):
    """Options a man page describes: those on the lines that open an item (*-h*, *--help*)."""
    found = set()
    for line in re.findall(r"^\*.*$", text, re.M):
        found |= set(re.findall(r"\*(--[a-z][a-z0-9-]*)\*", line))
    return found


def tokend_help_and_man_list_the_same_options():
    in_help = help_options(f"{BUILD}/daemon/tokend", "--help")
    in_man = described(man_section("tokend.8.scd", "OPTIONS"))
    assert in_help - in_man == set(), f"in --help, not in tokend(8): {sorted(in_help - in_man)}"
    assert in_man - in_help == set(), f"in tokend(8), not in --help: {sorted(in_man - in_help)}"


def tokenctl_help_and_man_list_the_same_options():
    tokenctl = f"{BUILD}/cli/tokenctl"
    in_help = help_options(tokenctl, "--help")
    for verb in VERBS:
        in_help |= help_options(tokenctl, verb, "--help")
    with open(os.path.join(SOURCE, "docs", "tokenctl.1.scd")) as f:
        page = f.read()
    mentioned = set(OPTION.findall(page.replace("\\", "")))
    missing = in_help - mentioned
    assert not missing, f"in tokenctl's --help, not in tokenctl(1): {sorted(missing)}"
    in_man = described(man_section("tokenctl.1.scd", "OPTIONS"))
    for verb_text in re.findall(r"^\*[a-z-]+\* .*$", man_section("tokenctl.1.scd", "COMMANDS"),
                                re.M):
        in_man |= set(OPTION.findall(verb_text.replace("\\", "")))
    extra = in_man - in_help
    assert not extra, f"in tokenctl(1), in no --help: {sorted(extra)}"


sys.exit(Tap([tokend_help_and_man_list_the_same_options,
              tokenctl_help_and_man_list_the_same_options]).run())
