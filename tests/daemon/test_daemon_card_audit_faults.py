#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The audit trail through a full disk and a crash, on a simulated MyEID card whose own counters
(tokend-sim's control socket) say what the card really did: a PIN is not presented while the
intent record cannot be written, and a tokend killed in the middle of an unblock leaves an intent
that its next start ends as interrupted. The full disk is an audit file that may not grow (a file
size limit on the running tokend: EFBIG, as ENOSPC, and no privilege needed)."""

import json
import resource
import subprocess
import sys
import time

from card_env import CardEnv, gvariant_options, need_cards
from tokend_env import BUS_NAME, TOKEN, options
from tap import Tap

need_cards()

WRONG_PIN = b"000000"
WRONG_PUK = b"99999999"
env = CardEnv(label="trail card")
d = env.daemon


def verify():
    p = subprocess.run([f"{d.build}/tests/daemon/audit-verify", d.audit_file],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


def size():
    with open(d.audit_file, "rb") as f:
        return len(f.read())


def wrong_pin_error():
    return env.call_error("ChangePin", "'user'",
                          gvariant_options(pin=WRONG_PIN, new_pin=b"406172"))


def a_wrong_pin_is_not_presented_while_the_trail_cannot_grow_and_is_once_it_can():
    before, length = env.counters(1), size()
    # Room for 20 bytes of the intent's line: the write is cut short, then cut back.
    resource.prlimit(d.tokend.pid, resource.RLIMIT_FSIZE, (length + 20, resource.RLIM_INFINITY))
    try:
        err = wrong_pin_error()
        assert err and err[0] == "org.tokend.Tokend1.Error.Failed", err
        assert "audit" in err[1] and "nothing is done to the token" in err[1], err
        assert "File too large" in err[1] and d.audit_file in err[1], err
        assert env.counters(1) == before, (before, env.counters(1))
        assert size() == length, "the failed write left a partial line"
        assert "partial" not in verify()
    finally:
        resource.prlimit(d.tokend.pid, resource.RLIMIT_FSIZE,
                         (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    err = wrong_pin_error()
    assert err and err[0] == "org.tokend.Tokend1.Error.PinIncorrect", err
    assert env.counters(1)[0] == before[0] - 1, (before, env.counters(1))
    intent, outcome = d.audit_records()[-2:]
    assert (intent["result"], outcome["result"], outcome["error"]) == \
        ("intent", "failed", "PinIncorrect"), (intent, outcome)
    assert outcome["intent"] == intent["seq"], (intent, outcome)
    assert "interruption" not in verify()


def wait_for(predicate, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def a_tokend_killed_mid_unblock_leaves_its_intent_ended_as_interrupted_at_the_next_start():
    _, _, puk, _ = env.counters(1)
    env.card.delay(1500)
    call = subprocess.Popen(
        ["gdbus", "call", "--address", d.address, "--dest", BUS_NAME, "--object-path", env.path,
         "--method", f"{TOKEN}.UnblockPin", "--",
         gvariant_options(so_pin=WRONG_PUK, new_pin=b"583920", request="ULA-KILL")],
        env=d.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # The card holds the RESET RETRY COUNTER (the PUK) and has not run it: tokend goes now.
        wait_for(lambda: "pending=2C" in env.card.status(), 30, "the unblock on the card")
        d.kill_tokend()
    finally:
        call.wait(30)
    wait_for(lambda: "pending=none" in env.card.status(), 10, "the card to run the command")
    env.card.delay(0)
    # The card ran it: the wrong PUK was spent, and tokend never heard the answer.
    assert env.counters(1)[2] == puk - 1, (puk, env.counters(1))
    intents = [r for r in d.audit_records() if r["request"] == "ULA-KILL"]
    assert [r["result"] for r in intents] == ["intent"], intents

    d.start_tokend()
    env.path = env.wait_token()
    records = d.audit_records(starts=True)
    ended = [r for r in records if r["intent"] == intents[0]["seq"]]
    assert len(ended) == 1, records[-4:]
    outcome = ended[0]
    assert (outcome["operation"], outcome["result"], outcome["error"], outcome["request"]) == \
        ("unblock-pin", "interrupted", "TokendStopped", "ULA-KILL"), outcome
    assert (outcome["uid"], outcome["pid"]) == (intents[0]["uid"], intents[0]["pid"]), outcome
    start = records[-1]
    assert start["operation"] == "start" and start["seq"] == outcome["seq"] + 1, records[-2:]
    verify()
    # The try the card may have spent is counted: the ledger agrees with the card, and never
    # shows it more tries than it has, which the final-try guard relies on.
    assert env.prop("PukRetriesSource") == "ledger", env.prop("PukRetriesSource")
    assert env.prop("PukRetries") == env.counters(1)[2] == puk - 1, \
        (env.prop("PukRetries"), env.counters(1))
    assert "counted in the retry ledger as an attempt whose answer was lost" in d.log(), \
        d.log()[-2000:]
    assert ledger_entry()["unknown"] == 1, ledger_entry()

    p = subprocess.run([f"{d.build}/cli/tokenctl", "--json", "audit", "list", d.audit_file,
                        "--request", "ULA-KILL"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    acts = json.loads(p.stdout)
    assert [(a["result"], a["error"], a["intent-seq"], a["outcome-seq"]) for a in acts] == \
        [("interrupted", "TokendStopped", intents[0]["seq"], outcome["seq"])], acts

    # Another start finds nothing more to end.
    d.kill_tokend()
    d.start_tokend()
    env.path = env.wait_token()
    again = d.audit_records(starts=True)
    assert [r["operation"] for r in again[len(records):]] == ["start"], again[len(records):]


def ledger_entry():
    with open(f"{d.dir}/retry-ledger.json") as f:
        return json.load(f)["tokens"][env.prop("Serial")]


def set_ledger_entry(entry):
    """The ledger as an earlier run left it, written while tokend is stopped."""
    serial = env.prop("Serial")
    d.kill_tokend()
    path = f"{d.dir}/retry-ledger.json"
    with open(path) as f:
        ledger = json.load(f)
    ledger["tokens"][serial] = entry
    with open(path, "w") as f:
        json.dump(ledger, f)
    d.start_tokend()
    env.path = env.wait_token()


def lost_answers_never_lock_the_puk_and_its_last_try_is_a_forced_one():
    # More lost answers than the PUK has tries, none of them refused by the card: tokend cannot
    # tell whether the card spent them. It does not call the PUK locked, which would leave the
    # holder a card nobody may unblock; it holds the last try back for force.
    serial = env.prop("Serial")
    puk_max = env.counters(1)[3]
    set_ledger_entry({"failed": 0, "unknown": puk_max + 2, "updated": 0})
    before = env.counters(1)
    assert (env.prop("PukState"), env.prop("PukRetries"), env.prop("PukRetriesSource")) == \
        ("final-try", 1, "ledger"), (env.prop("PukState"), env.prop("PukRetries"))
    err = env.call_error("UnblockPin", gvariant_options(so_pin=env.sim.puk.encode(),
                                                        new_pin=b"583920", request="ULA-LOST-1"))
    assert err and err[0] == "org.tokend.Tokend1.Error.SoPinFinalTry", err
    assert env.counters(1) == before, (before, env.counters(1))
    env.call("UnblockPin", "a{sv}", *options(so_pin=env.sim.puk.encode(), new_pin=b"583920",
                                             request="ULA-LOST-2", force=True))
    assert env.counters(1)[0] == env.counters(1)[1], env.counters(1)
    assert ledger_entry()["failed"] == 0 and "unknown" not in ledger_entry(), ledger_entry()
    assert env.prop("PukRetries") == puk_max, env.prop("PukRetries")
    # Only the card's own refusals lock it: as many as it has tries.
    set_ledger_entry({"failed": puk_max, "unknown": 1, "updated": 0})
    assert (env.prop("PukState"), env.prop("PukRetries")) == ("locked", 0), serial
    err = env.call_error("UnblockPin", gvariant_options(so_pin=env.sim.puk.encode(),
                                                        new_pin=b"583920", request="ULA-LOST-3",
                                                        force=True))
    assert err and err[0] == "org.tokend.Tokend1.Error.PinLocked", err
    set_ledger_entry({"failed": 0, "updated": 0})


rc = 1
try:
    rc = Tap([a_wrong_pin_is_not_presented_while_the_trail_cannot_grow_and_is_once_it_can,
              a_tokend_killed_mid_unblock_leaves_its_intent_ended_as_interrupted_at_the_next_start,
              lost_answers_never_lock_the_puk_and_its_last_try_is_a_forced_one]).run()
finally:
    env.close()
sys.exit(1 if env.failed_shutdown else rc)
