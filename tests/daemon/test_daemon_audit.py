#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The audit trail that tokend writes for acts on a token: allowed, refused and failed acts
each leave a chained line, the chain verifies, and no PIN reaches it."""

import os
import sys

from tap import Tap
from tokend_env import SO_PIN, SOFTHSM_MODULE, USER_PIN, Env, gvariant_options, need, options

need("dbus-daemon", "busctl", "gdbus", "softhsm2-util", SOFTHSM_MODULE)

WRONG_PIN = "864209"
NEW_PIN = "730518"
env = Env(labels=("audit-a",))
path = env.token_by_label("audit-a")
trail = f"{env.dir}/audit.jsonl"


def acts_leave_one_line_each_with_their_result():
    env.call(path, "GenerateKeyPair", "sa{sv}", "ec-p256", *options(pin=USER_PIN.encode()))
    err = env.call_error(path, "GenerateKeyPair", "ec-p256",
                         gvariant_options(pin=WRONG_PIN.encode()))
    assert err and err[0].endswith("PinIncorrect"), err
    err = env.call_error(path, "UnblockPin", gvariant_options(so_pin=SO_PIN.encode(),
                                                              new_pin=NEW_PIN.encode()))
    assert err and err[0].endswith("InvalidArgument"), err
    err = env.call_error(path, "ChangePin", "user",
                         gvariant_options(pin=USER_PIN.encode(), new_pin=b"111111"))
    assert err and err[0].endswith("PinPolicy"), err
    env.call(path, "UnblockPin", "a{sv}",
             *options(so_pin=SO_PIN.encode(), new_pin=NEW_PIN.encode(), request="ULA-2026-0042"))

    got = [(e["operation"], e["result"], e.get("error")) for e in env.audit_records()]
    # Intent before the token is touched, outcome after; the calls refused by tokend's own
    # argument checks never reached polkit or the token and are not in the trail.
    assert got == [("generate-key", "intent", None), ("generate-key", "ok", None),
                   ("generate-key", "intent", None), ("generate-key", "failed", "PinIncorrect"),
                   ("unblock-pin", "intent", None), ("unblock-pin", "ok", None)], got
    # Each outcome names its intent's seq; the intent names none.
    records = env.audit_records()
    for intent, outcome in zip(records[::2], records[1::2]):
        assert intent["intent"] is None and outcome["intent"] == intent["seq"], (intent, outcome)
    last = env.audit_records()[-1]
    assert last["request"] == "ULA-2026-0042", last
    assert last["uid"] == os.geteuid(), last
    serial = env.get(path, "org.tokend.Tokend1.Token", "Serial")
    assert all(e["serial"] == serial for e in env.audit_records()), env.audit_records()


def reading_leaves_no_line():
    before = len(env.audit_records())
    env.call(path, "ListObjects", "a{sv}", *options())
    assert len(env.audit_records()) == before


def no_pin_reaches_the_trail_or_the_log():
    with open(trail) as f:
        text = f.read()
    with open(f"{env.dir}/tokend.log") as f:
        text += f.read()
    for secret in (USER_PIN, WRONG_PIN, SO_PIN, NEW_PIN):
        assert secret not in text, f"a PIN is in the trail or the log"


def the_chain_verifies_and_catches_an_edit():
    import subprocess
    verify = f"{env.build}/tests/daemon/audit-verify"
    p = subprocess.run([verify, trail], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    with open(trail) as f:
        content = f.read().splitlines()
    edited = next(i for i, line in enumerate(content) if '"failed"' in line)
    content[edited] = content[edited].replace('"failed"', '"ok"')
    with open(trail, "w") as f:
        f.write("\n".join(content) + "\n")
    p = subprocess.run([verify, trail], capture_output=True, text=True)
    assert p.returncode != 0 and f"line {edited + 1}" in p.stdout + p.stderr, \
        p.stdout + p.stderr


try:
    rc = Tap([acts_leave_one_line_each_with_their_result, reading_leaves_no_line,
              no_pin_reaches_the_trail_or_the_log, the_chain_verifies_and_catches_an_edit]).run()
finally:
    env.close()
sys.exit(rc)
