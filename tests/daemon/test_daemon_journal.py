#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The audit trail as an administrator reads it back from the journal: tokend runs next to a
systemd-journald of the test's own, acts on a SoftHSM2 token for root and for a user polkit
does not allow, and journalctl then shows one entry per act (allowed, failed or refused) with
the fixed MESSAGE_ID of its kind and the TOKEND_* fields, the same acts as the audit file, and
no PIN anywhere."""

import os
import pwd
import re
import subprocess
import sys

from tap import Tap, skip
from tokend_env import (JOURNALD, SO_PIN, SOFTHSM_MODULE, USER_PIN, Env, PrivateJournal,
                        gvariant_options, need)

need("dbus-daemon", "gdbus", "busctl", "softhsm2-util", "journalctl", "unshare", "nsenter",
     "setpriv", JOURNALD, SOFTHSM_MODULE)

# What an administrator filters on: journalctl MESSAGE_ID=... (fixed for good, one per kind).
MESSAGE_IDS = {
    "generate-key": "bfee0245518d4924bb4e698c7312cd2b",
    "create-request": "b5e7f42e69044626a1b8da25e0de7dc3",
    "import-certificate": "d2680dc7db9c4469adb9f94ab89bd573",
    "change-pin": "8cca01deed014dc3a1908e05cdd3213b",
    "unblock-pin": "4e5da7636a214470b985c28241570f8f",
    "initialize": "b6adccc15dbe4d1c86e47ba00614c140",
    "delete-object": "49d3e48a74e64fb8a883094874e12fda",
    "list-objects": "5676aef5dfff42b5a16791f6a02dfee9",
    "change-so-pin": "a26dd33e7d304980bd264eb2b7f5c7c2",
}
# Long, distinctive secrets, so that finding one in the journal cannot be chance.
NEW_PIN = "58203917466"
WRONG_PIN = "90417738205"
UNBLOCKED_PIN = "74610295838"
INIT_PIN = "36927150484"
NEW_SO_PIN = "82615093747"
SECRETS = (USER_PIN, SO_PIN, NEW_PIN, WRONG_PIN, UNBLOCKED_PIN, INIT_PIN, NEW_SO_PIN)
REQUEST = "ULA-2026-0042"
DENIED_REQUEST = "ULA-2026-0043"
NOBODY = pwd.getpwnam("nobody").pw_uid

try:
    journal = PrivateJournal()
except RuntimeError as e:
    skip(str(e))
try:
    env = Env(labels=("journal-a",), launcher=journal.launcher())
except BaseException:
    journal.close()
    raise
# The bus socket lives in the test's dir, which the user polkit turns away must reach.
os.chmod(env.dir, 0o755)
path = env.token_by_label("journal-a")
serial = env.get(path, "org.tokend.Tokend1.Token", "Serial")
acts = []  # (operation, result, error, uid, caller pid, request) in the order of the calls


def call(method, *args, as_nobody=False):
    """Calls through gdbus, whose PID is the caller tokend sees; returns the error name."""
    cmd = ["gdbus", "call", "--address", env.address, "--dest", "org.tokend.Tokend1",
           "--object-path", path, "--method", f"org.tokend.Tokend1.Token.{method}", "--", *args]
    if as_nobody:
        # setpriv execs gdbus: the PID stays the caller's.
        cmd = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *cmd]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=env.env, cwd=env.other_users_dir() if as_nobody else None)
    out, err = p.communicate(timeout=60)
    if p.returncode == 0:
        return p.pid, None
    marker = "GDBus.Error:"
    assert marker in err, err
    return p.pid, err[err.index(marker) + len(marker):].split(":")[0]


def act(operation, result, error, method, *args, as_nobody=False, request="", recorded=True):
    pid, got = call(method, *args, as_nobody=as_nobody)
    if error is None:
        assert got is None, f"{method}: {got}"
    else:
        assert got and got.endswith(error), f"{method}: {got}, expected {error}"
    if recorded:
        acts.append((operation, result, error, NOBODY if as_nobody else 0, pid, request))


def tokend_entries():
    """The entries tokend's main process wrote, in order."""
    return journal.entries(f"_PID={env.tokend.pid}")


def audit_entries(count):
    def enough():
        return len([e for e in tokend_entries() if "TOKEND_OPERATION" in e]) >= count
    env.wait_for(enough, 10, f"{count} audit entries in the journal")
    return [e for e in tokend_entries() if "TOKEND_OPERATION" in e]


def run_the_acts():
    act("change-pin", "ok", None, "ChangePin", "user",
        gvariant_options(pin=USER_PIN.encode(), new_pin=NEW_PIN.encode()))
    act("generate-key", "ok", None, "GenerateKeyPair", "ec-p256",
        gvariant_options(pin=NEW_PIN.encode(), id=b"\x42"))
    act("create-request", "ok", None, "CreateRequest", "@ay [0x42]", "'CN=journal test'",
        gvariant_options(pin=NEW_PIN.encode()))
    act("generate-key", "failed", "PinIncorrect", "GenerateKeyPair", "ec-p256",
        gvariant_options(pin=WRONG_PIN.encode()))
    act("import-certificate", "failed", "InvalidCertificate", "ImportCertificate",
        "@ay [0x30, 0x00]", gvariant_options(pin=NEW_PIN.encode()))
    act("list-objects", "ok", None, "ListObjects", gvariant_options(pin=NEW_PIN.encode()))
    # Refused while its arguments are read, before polkit: answered, not recorded.
    act("unblock-pin", "refused", "InvalidArgument", "UnblockPin",
        gvariant_options(so_pin=SO_PIN.encode(), new_pin=UNBLOCKED_PIN.encode()),
        recorded=False)
    # Refused by authorisation: no polkitd on this bus answers for a user other than root.
    act("unblock-pin", "refused", "AccessDenied", "UnblockPin",
        gvariant_options(so_pin=SO_PIN.encode(), new_pin=UNBLOCKED_PIN.encode(),
                         request=DENIED_REQUEST), as_nobody=True, request=DENIED_REQUEST)
    act("unblock-pin", "ok", None, "UnblockPin",
        gvariant_options(so_pin=SO_PIN.encode(), new_pin=UNBLOCKED_PIN.encode(),
                         request=REQUEST), request=REQUEST)
    act("delete-object", "ok", None, "DeleteObject", "'key'", "@ay [0x42]",
        gvariant_options(pin=UNBLOCKED_PIN.encode()))
    act("initialize", "ok", None, "Initialize", "'journal-b'",
        gvariant_options(so_pin=SO_PIN.encode(), new_pin=INIT_PIN.encode()))
    act("change-so-pin", "ok", None, "ChangePin", "so",
        gvariant_options(pin=SO_PIN.encode(), new_pin=NEW_SO_PIN.encode()))


def each_act_is_one_entry_with_the_message_id_of_its_kind():
    run_the_acts()
    entries = audit_entries(len(acts))
    got = [(e["MESSAGE_ID"], e["TOKEND_OPERATION"], e["TOKEND_RESULT"]) for e in entries]
    want = [(MESSAGE_IDS[op], op, result) for op, result, *_ in acts]
    assert got == want, f"journal: {got}\nexpected: {want}"
    # Every kind was exercised, so every MESSAGE_ID was seen once at least.
    assert {e["MESSAGE_ID"] for e in entries} == set(MESSAGE_IDS.values())


def each_entry_names_the_token_the_caller_and_the_outcome():
    entries = audit_entries(len(acts))
    assert acts and len(entries) == len(acts), (len(entries), len(acts))
    for e, (op, result, error, uid, pid, request) in zip(entries, acts):
        where = f"{op} {result}: {e}"
        assert e["TOKEND_TOKEN_SERIAL"] == serial, where
        assert e["TOKEND_CALLER_UID"] == str(uid), where
        assert e["TOKEND_CALLER_PID"] == str(pid), where
        assert e.get("TOKEND_REQUEST", "") == request, where
        assert e.get("TOKEND_ERROR", "") == (error or ""), where
        assert bool(e.get("TOKEND_ERROR")) == (error is not None), where
        # Refusals and failures stand out from routine acts when filtering by priority.
        assert e["PRIORITY"] == ("6" if result == "ok" else "5"), where
        assert e["_TRANSPORT"] == "journal" and e["_UID"] == "0", where
        assert e["SYSLOG_IDENTIFIER"] == "tokend", where
        assert serial in e["MESSAGE"] and result in e["MESSAGE"], where


def a_refused_act_can_be_found_by_its_message_id():
    # What an administrator types to see who tried to unblock tokens without being allowed.
    entries = journal.entries(f"MESSAGE_ID={MESSAGE_IDS['unblock-pin']}", "TOKEND_RESULT=refused")
    got = [(e["TOKEND_CALLER_UID"], e.get("TOKEND_REQUEST", ""),
            e["TOKEND_ERROR"].rsplit(".", 1)[-1]) for e in entries]
    assert got == [(str(NOBODY), DENIED_REQUEST, "AccessDenied")], got


def the_journal_and_the_audit_file_record_the_same_acts():
    lines = env.audit_records()
    journal_acts = [(e["TOKEND_OPERATION"], e["TOKEND_TOKEN_SERIAL"], e["TOKEND_CALLER_UID"],
                     e["TOKEND_CALLER_PID"], e.get("TOKEND_REQUEST", ""), e["TOKEND_RESULT"],
                     e.get("TOKEND_ERROR", "")) for e in audit_entries(len(acts))]
    # The file has the intent of each act that polkit allowed, the journal its outcome.
    file_acts = [(l["operation"], l["serial"], str(l["uid"]), str(l["pid"]), l["request"] or "",
                  l["result"], l["error"] or "") for l in lines if l["result"] != "intent"]
    assert len(lines) - len(file_acts) == len([a for a in acts if a[1] != "refused"]), lines
    assert journal_acts == file_acts, f"journal: {journal_acts}\nfile: {file_acts}"


def reading_leaves_no_entry():
    before = len(audit_entries(len(acts)))
    path_now = env.token_by_label("journal-b")
    p = subprocess.run(["gdbus", "call", "--address", env.address, "--dest", "org.tokend.Tokend1",
                        "--object-path", path_now, "--method",
                        "org.tokend.Tokend1.Token.ListObjects", "@a{sv} {}"],
                       capture_output=True, text=True, env=env.env)
    assert p.returncode == 0, p.stderr
    # An act after the read marks the point by which the read would have been journaled.
    _, err = call("ChangePin", "user", gvariant_options(pin=WRONG_PIN.encode(),
                                                        new_pin=NEW_PIN.encode()))
    assert err and err.endswith("PinIncorrect"), err
    entries = audit_entries(before + 1)
    assert len(entries) == before + 1, [e["TOKEND_OPERATION"] for e in entries[before:]]
    assert entries[-1]["TOKEND_OPERATION"] == "change-pin", entries[-1]


def every_message_id_seen_is_in_the_man_page():
    # An administrator learns the ids from tokend(8); what the journal shows must match it.
    with open(f"{env.source}/docs/tokend.8.scd") as f:
        documented = dict(re.findall(r"^- \*([a-z-]+)\*: ([0-9a-f]{32})$", f.read(), re.M))
    seen = {e["TOKEND_OPERATION"]: e["MESSAGE_ID"] for e in audit_entries(len(acts))}
    assert seen == documented, f"journal: {seen}\ntokend(8): {documented}"


def no_pin_is_anywhere_in_the_journal():
    everything = journal.entries()
    assert any("TOKEND_OPERATION" in e for e in everything), "no audit entries to search"
    # Every field of every entry, the journal's own counters and timestamps aside (numbers it
    # makes up, not text anyone gave it).
    own = {"__CURSOR", "__REALTIME_TIMESTAMP", "__MONOTONIC_TIMESTAMP", "__SEQNUM",
           "__SEQNUM_ID", "_SOURCE_REALTIME_TIMESTAMP", "_SOURCE_MONOTONIC_TIMESTAMP"}
    for e in everything:
        for k, v in e.items():
            if k in own:
                continue
            text = f"{k}={v}"
            for secret in SECRETS:
                assert secret not in text, f"a PIN in the journal field {k}"
                assert secret.encode().hex() not in text, f"a PIN, as hex, in the field {k}"
    # And the stored files themselves, for what journalctl would not show.
    for name in journal.files():
        with open(name, "rb") as f:
            data = f.read()
        for secret in SECRETS:
            if len(secret) >= 10:
                assert secret.encode() not in data, f"a PIN in {name}"


rc = 1
try:
    rc = Tap([each_act_is_one_entry_with_the_message_id_of_its_kind,
              each_entry_names_the_token_the_caller_and_the_outcome,
              a_refused_act_can_be_found_by_its_message_id,
              the_journal_and_the_audit_file_record_the_same_acts,
              reading_leaves_no_entry,
              every_message_id_seen_is_in_the_man_page,
              no_pin_is_anywhere_in_the_journal]).run()
finally:
    env.close()
    journal.close()
    if env.failed_shutdown:
        rc = 1
sys.exit(rc)
