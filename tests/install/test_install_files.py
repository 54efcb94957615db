#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""meson install of a --prefix=/usr build puts exactly the files of expected-files.txt on the
site, at their FHS paths, and only the programs are executable."""

import os
import stat

import install_tree

EXPECTED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "expected-files.txt")

tree = install_tree.Tree()


def expected():
    with open(EXPECTED) as f:
        return {line.strip() for line in f if line.strip() and not line.startswith("#")}


def test_installed_files_are_the_listed_ones():
    want = expected()
    got = {install_tree.site_path(p) for p in tree.files()}
    missing, extra = sorted(want - got), sorted(got - want)
    assert not missing and not extra, (
        "installed files differ from tests/install/expected-files.txt\n"
        + "".join(f"missing: {p}\n" for p in missing)
        + "".join(f"extra:   {p}\n" for p in extra))


def test_only_the_programs_are_executable():
    wrong = []
    for p in sorted(tree.files()):
        mode = stat.S_IMODE(os.lstat(tree.path(p)).st_mode)
        want = 0o755 if install_tree.site_path(p) in install_tree.PROGRAMS else 0o644
        if mode != want:
            wrong.append(f"{p}: {mode:o}, expected {want:o}")
    assert not wrong, "\n".join(wrong)


install_tree.main([test_installed_files_are_the_listed_ones,
                   test_only_the_programs_are_executable], tree)
