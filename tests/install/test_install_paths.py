#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every path compiled into a --prefix=/usr build is absolute and the FHS path that the
documentation gives (tokend(8), tokend.conf(5), README), and the programs, the units and the
installed example configuration use the same ones."""

import json
import os
import re

import install_tree

tree = install_tree.Tree()
build = install_tree.USR_BUILD
source = install_tree.SOURCE


def build_option(name):
    p = install_tree.run([install_tree.MESON, "introspect", "--buildoptions", build])
    return next(o["value"] for o in json.loads(p.stdout) if o["name"] == name)


# Each compiled-in path (config.h, from meson.build) with the path it must be for --prefix=/usr
# and the documents that tell an administrator about it.
WORKER = "/usr/libexec/tokend/tokend-worker"
MODULE = "/usr/" + build_option("libdir") + "/opensc-pkcs11.so"
EXPECTED = {
    "TOKEND_CONFIG_FILE": ("/etc/tokend/tokend.conf",
                           ["docs/tokend.8.scd", "docs/tokend.conf.5.scd", "README.md"]),
    "TOKEND_STATE_DIR": ("/var/lib/tokend", ["docs/tokend.8.scd", "README.md"]),
    "TOKEND_AUDIT_FILE": ("/var/log/tokend/audit.jsonl",
                          ["docs/tokend.8.scd", "docs/tokend.conf.5.scd", "README.md"]),
    "TOKEND_LIBEXECDIR": ("/usr/libexec", []),
    # The system's OpenSC module; the documents give the amd64 path as the example.
    "TOKEND_DEFAULT_MODULE": (MODULE, []),
}
# Not a path.
NOT_PATHS = {"TOKEND_VERSION"}


def compiled_in():
    with open(os.path.join(build, "config.h")) as f:
        return dict(re.findall(r'^#define (TOKEND_\w+) "(.*)"$', f.read(), re.M))


def read(path):
    with open(os.path.join(source, path)) as f:
        return f.read()


def test_every_compiled_in_path_is_the_documented_fhs_one():
    got = compiled_in()
    paths = set(got) - NOT_PATHS
    assert paths == set(EXPECTED), (
        f"config.h has {sorted(paths)}; this test knows {sorted(EXPECTED)}: a new path needs "
        "its FHS value here and in the documentation")
    wrong = [f"{name}={got[name]}, documented {want}"
             for name, (want, _) in EXPECTED.items() if got[name] != want]
    assert not wrong, "\n".join(wrong)


def test_the_documents_name_those_paths():
    missing = [f"{doc} does not name {path} ({name})"
               for name, (path, docs) in EXPECTED.items() for doc in docs
               if path not in read(doc)]
    for doc in ("docs/tokend.8.scd", "README.md"):
        if WORKER not in read(doc):
            missing.append(f"{doc} does not name {WORKER}")
    if "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so" not in read("docs/tokend.conf.5.scd"):
        missing.append("tokend.conf(5) does not give the default module's path")
    assert not missing, "\n".join(missing)


def test_tokend_help_shows_them():
    out = install_tree.run([os.path.join(build, "daemon", "tokend"), "--help"]).stdout
    for path in ("/etc/tokend/tokend.conf", WORKER, "/var/lib/tokend"):
        assert path in out, f"tokend --help does not show {path}:\n{out}"


def test_units_and_example_use_them():
    with open(tree.path("/usr/lib/systemd/system/tokend.service")) as f:
        assert "\nExecStart=/usr/sbin/tokend " in f.read()
    with open(tree.path("/usr/lib/systemd/system/tokend-worker@.service")) as f:
        assert f"\nExecStart={WORKER} " in f.read()
    with open(tree.path("/usr/share/doc/tokend/tokend.conf.example")) as f:
        example = f.read()
    for line in ("#Module=" + MODULE, "#File=/var/log/tokend/audit.jsonl"):
        assert f"\n{line}\n" in example, f"the example lacks {line}:\n{example}"
    assert "/etc/tokend/tokend.conf" in example, example


def test_tokend_may_write_the_audit_dir_that_tmpfiles_makes():
    audit_dir = os.path.dirname(compiled_in()["TOKEND_AUDIT_FILE"])
    with open(tree.path("/usr/lib/systemd/system/tokend.service")) as f:
        writable = [p for line in f if line.startswith("ReadWritePaths=")
                    for p in line.strip().split("=", 1)[1].split()]
    assert audit_dir in writable, (audit_dir, writable)
    with open(tree.path("/usr/lib/tmpfiles.d/tokend.conf")) as f:
        lines = [line.split() for line in f if line.strip() and not line.startswith("#")]
    assert ["d", audit_dir, "2750", "tokend", "tokend-audit", "-"] in lines, lines


install_tree.main([test_every_compiled_in_path_is_the_documented_fhs_one,
                   test_the_documents_name_those_paths, test_tokend_help_shows_them,
                   test_units_and_example_use_them,
                   test_tokend_may_write_the_audit_dir_that_tmpfiles_makes], tree)
