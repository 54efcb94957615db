#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The installed units as systemd reads them: systemd-analyze verify finds nothing to say
about tokend.service, tokend-worker.socket and a tokend-worker@.service instance in the
installed tree (their programs and man pages included), systemd-analyze security rates both
services at an exposure of 1.0 or less, and the socket, the daemon and the workers agree on
the paths between them."""

import glob
import os
import re
import shutil

import install_tree

install_tree.need("systemd-analyze")

UNITDIR = "/usr/lib/systemd/system"
MAX_EXPOSURE = 1.0

tree = install_tree.Tree()


def unit_settings(name):
    """The key=value lines of an installed unit, each key with the list of its values."""
    settings = {}
    with open(tree.path(f"{UNITDIR}/{name}")) as f:
        for line in f:
            m = re.match(r"^([A-Za-z]+)=(.*)$", line.strip())
            if m:
                settings.setdefault(m.group(1), []).append(m.group(2))
    return settings


def test_units_pass_systemd_analyze_verify():
    # The units' default dependencies are systemd's own targets and slices: copies of the
    # host's stand in for them in the tree.
    for d in ("/usr/lib/systemd/system", "/lib/systemd/system"):
        for f in glob.glob(f"{d}/*.target") + glob.glob(f"{d}/*.slice"):
            dest = tree.path(f"{UNITDIR}/{os.path.basename(f)}")
            if not os.path.islink(f) and not os.path.exists(dest):
                shutil.copy(f, dest)
    cmd = ["systemd-analyze", "verify", f"--root={tree.root}"]
    if not shutil.which("man"):
        cmd.append("--man=no")
    # Documentation=man:… is looked up in the installed man pages.
    env = dict(os.environ, MANPATH=tree.path("/usr/share/man"))
    p = install_tree.run(cmd + ["tokend.service", "tokend-worker.socket",
                                "tokend-worker@0.service"], env=env)
    assert not p.stdout and not p.stderr, p.stdout + p.stderr


def exposure(unit):
    p = install_tree.run(["systemd-analyze", "security", "--offline=true",
                          f"--root={tree.root}", "--no-pager", unit])
    assert not p.stderr, p.stderr
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", p.stdout)
    assert m, p.stdout
    level = float(m.group(1))
    print(f"# {unit}: exposure {level}")
    assert level <= MAX_EXPOSURE, f"{unit}: exposure {level} > {MAX_EXPOSURE}\n{p.stdout}"


def test_tokend_service_exposure():
    exposure("tokend.service")


def test_worker_service_exposure():
    exposure("tokend-worker@.service")


def test_tokend_connects_to_the_worker_socket():
    socket = unit_settings("tokend-worker.socket")
    service = unit_settings("tokend.service")
    listen = socket["ListenStream"]
    assert len(listen) == 1, listen
    assert f"--worker-socket={listen[0]}" in service["ExecStart"][0].split(), service
    assert socket["Accept"] == ["yes"], socket
    # Only tokend may connect: the socket is its own, mode 0600.
    assert socket["SocketUser"] == ["tokend"] and socket["SocketMode"] == ["0600"], socket
    for key in ("Wants", "After"):
        assert "tokend-worker.socket" in " ".join(service.get(key, [])).split(), (key, service)


def test_programs_take_the_units_options():
    # The programs in the tree run here: they link the project's libraries statically.
    for unit in ("tokend.service", "tokend-worker@.service"):
        argv = unit_settings(unit)["ExecStart"][0].split()
        out = install_tree.run([tree.path(argv[0]), "--help"]).stdout
        for arg in argv[1:]:
            option = arg.split("=")[0]
            assert re.search(rf"(^|\s){re.escape(option)}(\s|$)", out), (
                f"{unit}: {argv[0]} --help does not offer {option}:\n{out}")


def test_workers_reach_none_of_tokends_state():
    service = unit_settings("tokend.service")
    worker = unit_settings("tokend-worker@.service")
    assert service["User"] == ["tokend"], service
    assert worker["DynamicUser"] == ["yes"], worker
    hidden = {p.lstrip("-") for v in worker.get("InaccessiblePaths", []) for p in v.split()}
    for key, base in (("ConfigurationDirectory", "/etc"), ("StateDirectory", "/var/lib"),
                      ("RuntimeDirectory", "/run")):
        for d in service[key]:
            assert f"{base}/{d}" in hidden, f"the worker reaches {base}/{d}: {sorted(hidden)}"
    # What tokend writes besides: the audit trail's directory.
    for v in service["ReadWritePaths"]:
        for d in v.split():
            assert d.lstrip("-") in hidden, f"the worker reaches {d}: {sorted(hidden)}"


install_tree.main([test_units_pass_systemd_analyze_verify, test_tokend_service_exposure,
                   test_worker_service_exposure, test_tokend_connects_to_the_worker_socket,
                   test_programs_take_the_units_options, test_workers_reach_none_of_tokends_state],
                  tree)
