#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Modules that fail, hang or whose scanner stops: the Manager's Modules property says so, the
scanner is restarted, each change of a module's state is logged once (not every poll), and the
other modules' tokens stay listed. A PKCS#11 module of the tests' (fake-pkcs11.so) hangs or
crashes on request; SIGSTOP stands for a scanner that no longer runs."""

import os
import signal
import sys
import tempfile
import time

from tap import Tap
from tokend_env import MANAGER, ROOT, SOFTHSM_MODULE, Env, need

need("dbus-daemon", "busctl", "softhsm2-util", SOFTHSM_MODULE)

FAKE = f"{os.environ['TOKEND_BUILD_DIR']}/tests/common/fake-pkcs11.so"
MISSING = "/nonexistent/tokend-test-missing-module.so"
mode_dir = tempfile.mkdtemp(prefix="tokend-fake-module.")
MODE_FILE = os.path.join(mode_dir, "mode")
os.environ["FAKE_PKCS11_MODE_FILE"] = MODE_FILE
# Polls every 200 ms; a scanner silent for 200 ms + 2 s is restarted.
env = Env(labels=("modules-a",), modules=[SOFTHSM_MODULE, FAKE, MISSING],
          tokend_args=["--scanner-timeout", "2"])


def set_mode(mode):
    with open(MODE_FILE, "w") as f:
        f.write(mode + "\n")


def modules():
    return {path: (state, error) for path, state, error in env.get(ROOT, MANAGER, "Modules")}


def state(path):
    return modules()[path][0]


def log_lines(path):
    return [line for line in env.log().splitlines() if f"Module {path}" in line]


def scanners():
    """{module path: scanner PID} of tokend's scanner children."""
    return {cmd[cmd.index(b"--module") + 1].decode(): pid
            for pid, cmd in env.children() if b"--scan" in cmd}


def softhsm_token_listed():
    return len(env.tokens()) == 1


def every_module_has_a_state():
    env.wait_for(lambda: state(SOFTHSM_MODULE) == "ok" and state(FAKE) == "ok", 10,
                 "the working modules to be ok")
    assert set(modules()) == {SOFTHSM_MODULE, FAKE, MISSING}, modules()


def a_missing_module_is_failing_and_logged_once():
    env.wait_for(lambda: state(MISSING) == "failing", 10, "the missing module to be failing")
    assert MISSING in modules()[MISSING][1] or "load" in modules()[MISSING][1].lower(), modules()
    # Ten polls later, still the one line.
    time.sleep(2)
    assert len(log_lines(MISSING)) == 1, log_lines(MISSING)
    assert softhsm_token_listed()


def a_hanging_module_is_not_responding_and_recovers():
    set_mode("hang")
    env.wait_for(lambda: state(FAKE) == "not-responding", 10, "the hung module to be noticed")
    hung = scanners().get(FAKE)
    assert softhsm_token_listed()
    set_mode("ok")
    env.wait_for(lambda: state(FAKE) == "ok", 15, "the module to be ok again")
    assert scanners().get(FAKE) != hung, "the hung scanner was not replaced"
    lines = log_lines(FAKE)
    assert len(lines) == 2, lines
    assert "not-responding" in lines[0] and "listed again" in lines[1], lines


def a_crashing_module_is_failing_and_logged_once():
    before = len(log_lines(FAKE))
    set_mode("crash")
    env.wait_for(lambda: state(FAKE) == "failing", 10, "the crashing module to be failing")
    assert "signal 6" in modules()[FAKE][1], modules()[FAKE]
    # Its scanner crashes on every start (every 2 s): one line all the same.
    time.sleep(5)
    assert len(log_lines(FAKE)) == before + 1, log_lines(FAKE)[before:]
    set_mode("ok")
    env.wait_for(lambda: state(FAKE) == "ok", 15, "the module to be ok again")


def a_stopped_scanner_is_replaced_and_its_tokens_stay():
    pid = scanners()[SOFTHSM_MODULE]
    os.kill(pid, signal.SIGSTOP)
    try:
        env.wait_for(lambda: state(SOFTHSM_MODULE) == "not-responding", 10,
                     "the stopped scanner to be noticed")
        env.wait_for(lambda: state(SOFTHSM_MODULE) == "ok", 10, "a new scanner to report")
        assert scanners()[SOFTHSM_MODULE] != pid
        assert softhsm_token_listed()
    finally:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass


try:
    rc = Tap([every_module_has_a_state, a_missing_module_is_failing_and_logged_once,
              a_hanging_module_is_not_responding_and_recovers,
              a_crashing_module_is_failing_and_logged_once,
              a_stopped_scanner_is_replaced_and_its_tokens_stay]).run()
finally:
    env.close()
    import shutil
    shutil.rmtree(mode_dir, ignore_errors=True)
sys.exit(1 if env.failed_shutdown else rc)
