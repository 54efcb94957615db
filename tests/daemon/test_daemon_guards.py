#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What protects a token: a caller that is not root is refused without polkit's yes, a hung
worker is cut off at the timeout, and a refused or failed call changes nothing."""

import os
import signal
import subprocess
import sys
import threading
import time

from tap import Tap
from tokend_env import (BUS_NAME, SOFTHSM_MODULE, TOKEN, USER_PIN, Env, gvariant_options, need,
                        options)

need("dbus-daemon", "busctl", "gdbus", "setpriv", "softhsm2-util", "pkcs11-tool", SOFTHSM_MODULE)

env = Env(labels=("guard",), worker_timeout=2)
os.chmod(env.dir, 0o755)  # the bus socket lives here; other users must reach it
path = env.token_by_label("guard")


def as_nobody(*args):
    p = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                        "gdbus", "call", "--address", env.address, "--dest", BUS_NAME,
                        "--object-path", path, "--method", *args],
                       capture_output=True, text=True, env=env.env, cwd=env.other_users_dir())
    return p.returncode, p.stdout + p.stderr


def reading_is_open_to_everyone():
    rc, out = as_nobody(f"{TOKEN}.ListObjects", "@a{sv} {}")
    assert rc == 0, out


def changes_by_others_are_refused_without_polkit():
    before = env.pkcs11_tool("--token-label", "guard", "--login", "--pin", USER_PIN,
                             "--list-objects")[1]
    rc, out = as_nobody(f"{TOKEN}.GenerateKeyPair", "ec-p256",
                        gvariant_options(pin=USER_PIN.encode()))
    assert rc != 0 and "org.freedesktop.DBus.Error.AccessDenied" in out, out
    after = env.pkcs11_tool("--token-label", "guard", "--login", "--pin", USER_PIN,
                            "--list-objects")[1]
    assert before == after
    with open(f"{env.dir}/audit.jsonl") as f:
        last = f.read().splitlines()[-1]
    assert '"refused"' in last and '"generate-key"' in last, last


def every_method_says_its_limit_within_the_ceiling():
    """--worker-timeout 2 is a ceiling over the operation table's limits."""
    timeouts = env.get("/org/tokend/Tokend1", "org.tokend.Tokend1.Manager", "OperationTimeouts")
    assert timeouts == {m: 2 for m in ("ListObjects", "GenerateKeyPair", "CreateRequest",
                                       "ImportCertificate", "ChangePin", "UnblockPin",
                                       "Initialize", "DeleteObject")}, timeouts


def hung_worker_is_cut_off_at_the_timeout_and_replaced():
    result = {}

    def call():
        start = time.monotonic()
        result["err"] = env.call_error(path, "GenerateKeyPair", "rsa4096",
                                       gvariant_options(pin=USER_PIN.encode()))
        result["took"] = time.monotonic() - start

    t = threading.Thread(target=call)
    t.start()
    env.wait_for(lambda: env.get(path, TOKEN, "Busy") is True, 10, "Busy")
    serial = env.get(path, TOKEN, "Serial")
    worker = [pid for pid, s in env.worker_pids() if s == serial][0]
    os.kill(worker, signal.SIGSTOP)
    t.join(30)
    err = result.get("err")
    assert err and err[0] == "org.tokend.Tokend1.Error.Timeout", err
    assert "GenerateKeyPair did not finish within its limit of 2 seconds" in err[1], err
    assert 1.5 < result["took"] < 10, result
    # The token is not left Busy while its successor starts, and the outcome is recorded.
    assert env.get(path, TOKEN, "Busy") is False
    last = env.audit_records()[-1]
    assert (last["operation"], last["result"], last["error"]) == ("generate-key", "failed",
                                                                  "Timeout"), last
    # Each ListObjects has 2 s here too, the new worker's start included: on a loaded machine
    # the first tries may run out.
    env.wait_for(lambda: env.call(path, "ListObjects", "a{sv}", *options()) is not None, 30,
                 "a new worker")
    assert env.get(path, TOKEN, "Busy") is False


try:
    rc = Tap([reading_is_open_to_everyone, changes_by_others_are_refused_without_polkit,
              every_method_says_its_limit_within_the_ceiling,
              hung_worker_is_cut_off_at_the_timeout_and_replaced]).run()
finally:
    env.close()
sys.exit(1 if env.failed_shutdown else rc)
