#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""tokend's state directory at start: made private when missing, and when the retry ledger
cannot be written there (a regular file in its place, a read-only file system, a damaged
ledger) tokend does not start, saying which path and why. The read-only file system is a tmpfs
of tokend's own (a private mount namespace), as in test_daemon_audit_faults."""

import os
import stat
import subprocess
import sys
import tempfile

from tap import Tap
from tokend_env import SOFTHSM_MODULE, Env, need

need("dbus-daemon", "busctl", "softhsm2-util", "unshare", SOFTHSM_MODULE)


def refused_start(why, state_dir, expect, launcher=()):
    """Starts tokend on state_dir and expects it to exit with a failure within a few seconds,
    its output naming the path and saying expect."""
    env = Env(labels=("state",), state_dir=state_dir, launcher=launcher, wait=False)
    try:
        try:
            rc = env.tokend.wait(5)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{why}: tokend still runs after 5 s:\n{env.log()}")
        log = env.log()
        assert rc != 0, f"{why}: tokend exited with {rc}:\n{log}"
        assert env.state_dir in log, f"{why}: the path is not named:\n{log}"
        assert expect in log, f"{why}: no {expect!r}:\n{log}"
    finally:
        env.close()


def missing_state_directory_is_made_private():
    env = Env(labels=("state",), state_dir="@DIR@/state")
    try:
        st = os.stat(env.state_dir)
        assert stat.S_ISDIR(st.st_mode), st
        assert stat.S_IMODE(st.st_mode) == 0o700, oct(st.st_mode)
        assert os.path.exists(f"{env.state_dir}/retry-ledger.json")
    finally:
        env.close()
    assert not env.failed_shutdown


def a_regular_file_in_place_of_the_state_directory_stops_start_up():
    with tempfile.TemporaryDirectory(prefix="tokend-state-file.") as holder:
        path = f"{holder}/state"
        with open(path, "w") as f:
            f.write("not a directory\n")
        refused_start("file in the way", path, "Not a directory")


def a_read_only_state_directory_stops_start_up():
    with tempfile.TemporaryDirectory(prefix="tokend-state-ro.") as fs:
        # The directory is there, on a file system that takes no writes.
        launcher = ["unshare", "-m", "--propagation", "private", "sh", "-c",
                    'm=$1; shift; mount -t tmpfs -o size=64k tmpfs "$m" && mkdir -m 0700 '
                    '"$m/state" && mount -o remount,ro "$m" && exec "$@"', "sh", fs]
        refused_start("read-only", f"{fs}/state", "Read-only file system", launcher=launcher)


def a_damaged_ledger_stops_start_up_and_is_left_as_it_is():
    with tempfile.TemporaryDirectory(prefix="tokend-state-damaged.") as path:
        damaged = '{"version": 1, "tokens": {"0001": {"failed": "nine"}}}\n'
        with open(f"{path}/retry-ledger.json", "w") as f:
            f.write(damaged)
        refused_start("damaged", path, "damaged")
        with open(f"{path}/retry-ledger.json") as f:
            assert f.read() == damaged


sys.exit(Tap([missing_state_directory_is_made_private,
              a_regular_file_in_place_of_the_state_directory_stops_start_up,
              a_read_only_state_directory_stops_start_up,
              a_damaged_ledger_stops_start_up_and_is_left_as_it_is]).run())
