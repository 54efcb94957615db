#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""tokend's retry ledger on a simulated MyEID card, whose PUK counter only the ledger counts:
it lives in tokend's state directory, which tokend makes when it is missing, and never reaches
a worker; and while it cannot be written (a read-only or full file system, a damaged file) an
unblock is refused before the card is asked, and works again once it can be. The state
directory is on a small tmpfs of tokend's own (a private mount namespace, as in
test_daemon_audit_faults), reached through /proc/PID/root."""

import json
import os
import shutil
import stat
import sys
import tempfile

from card_env import TOKEN, CardEnv, gvariant_options, need_cards, options
from tap import Tap, skip
from tokend_env import fill_file_system

need_cards()
for program in ("unshare", "nsenter"):
    if not shutil.which(program):
        skip(f"{program} is not installed")

WRONG_PUK = b"99999999"
NEW_PIN = b"583920"
state = {}

mount_dir = tempfile.mkdtemp(prefix="tokend-ledger.")
fs = f"{mount_dir}/fs"
os.mkdir(fs)
# The state directory does not exist yet: tokend makes it, on the tmpfs it alone sees.
state_dir = f"{fs}/state"
launcher = ["unshare", "-m", "--propagation", "private", "sh", "-c",
            'm=$1; shift; mount -t tmpfs -o size=256k tmpfs "$m" && exec "$@"', "sh", fs]
env = CardEnv(label="ledger card", launcher=launcher, state_dir=state_dir)
tokend = env.daemon.tokend.pid
inside = f"/proc/{tokend}/root{state_dir}"
ledger_file = f"{inside}/retry-ledger.json"


def unblock_error(**kw):
    return env.call_error("UnblockPin", gvariant_options(**kw))


def wrong_puk(request):
    err = unblock_error(so_pin=WRONG_PUK, new_pin=NEW_PIN, request=request)
    assert err and err[0] == "org.tokend.Tokend1.Error.PinIncorrect", err
    return err


def ledger():
    with open(ledger_file) as f:
        return json.load(f)["tokens"]


def refused_before_the_card(why, expect):
    """An unblock, even with force, refused with Failed naming the ledger, the card's PUK
    counter untouched and the refusal in the audit trail."""
    before = env.counters(1)
    request = f"ULA-{why}"
    err = unblock_error(so_pin=WRONG_PUK, new_pin=NEW_PIN, request=request, force=True)
    assert err and err[0] == "org.tokend.Tokend1.Error.Failed", (why, err)
    assert f"{state_dir}/retry-ledger.json" in err[1] and expect in err[1], (why, err)
    assert "uncounted" in err[1], (why, err)
    assert env.counters(1) == before, (why, before, env.counters(1))
    records = [(r["request"], r["result"], r["error"]) for r in env.daemon.audit_records()
               if r["operation"] == "unblock-pin"]
    assert (request, "refused", "Failed") in records, records
    # What does not depend on the ledger goes on: the card still answers through tokend.
    assert env.objects() == state["objects"], env.objects()


def missing_state_directory_is_made_private():
    state["objects"] = env.objects()
    st = os.stat(inside)
    assert stat.S_ISDIR(st.st_mode), st
    assert stat.S_IMODE(st.st_mode) == 0o700, oct(st.st_mode)
    assert ledger() == {}, ledger()
    # No record yet: nothing counts the PUK.
    assert env.prop("PukRetriesSource") == "unknown"


def workers_get_no_state_directory():
    workers = env.daemon.worker_pids()
    assert workers, "no token worker"
    for pid, _ in workers:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
        assert b"--state-dir" not in argv, argv
        assert not any(state_dir.encode() in a for a in argv), argv
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            assert not target.startswith(state_dir), (pid, fd, target)


def a_wrong_puk_is_counted_by_tokend_in_the_new_directory():
    _, _, puk, puk_max = env.counters(1)
    err = wrong_puk("ULA-1")
    assert env.counters(1)[2] == puk - 1, env.counters(1)
    assert f"{puk_max - 1} tries left" in err[1] and "as counted by tokend" in err[1], err
    assert env.prop("PukRetries") == puk_max - 1
    assert env.prop("PukRetriesSource") == "ledger"
    assert list(ledger()) == [env.prop("Serial")], ledger()
    assert ledger()[env.prop("Serial")]["failed"] == 1, ledger()


def the_ledger_count_is_no_method_of_the_token():
    before = (env.prop("PukRetries"), env.counters(1))
    err = env.daemon.call_error(env.path, "SetLedger", "0", interface=TOKEN)
    assert err and err[0] == "org.freedesktop.DBus.Error.UnknownMethod", err
    err = env.daemon.call_error(env.path, "SetLedger", "0", interface="org.tokend.Worker1")
    assert err and err[0] in ("org.freedesktop.DBus.Error.UnknownMethod",
                              "org.freedesktop.DBus.Error.UnknownInterface"), err
    assert (env.prop("PukRetries"), env.counters(1)) == before


def unblock_refused_while_the_ledger_is_read_only():
    puk_left = env.prop("PukRetries")
    env.daemon.remount(fs, "ro")
    try:
        refused_before_the_card("read-only", "Read-only file system")
        # It still reads: the token shows its count meanwhile.
        assert env.prop("PukRetries") == puk_left, (puk_left, env.prop("PukRetries"))
        assert env.prop("PukRetriesSource") == "ledger"
    finally:
        env.daemon.remount(fs, "rw")
    wrong_puk("ULA-2")
    assert env.prop("PukRetries") == puk_left - 1, (puk_left, env.prop("PukRetries"))
    assert ledger()[env.prop("Serial")]["failed"] == 2, ledger()


def unblock_refused_while_the_ledger_disk_is_full():
    filler = f"/proc/{tokend}/root{fs}/filler"
    fill_file_system(filler)
    try:
        refused_before_the_card("full", "No space left on device")
    finally:
        os.unlink(filler)
    assert ledger()[env.prop("Serial")]["failed"] == 2, ledger()
    wrong_puk("ULA-3")
    assert ledger()[env.prop("Serial")]["failed"] == 3, ledger()


def unblock_refused_while_the_ledger_is_damaged():
    with open(ledger_file) as f:
        good = f.read()
    with open(ledger_file, "w") as f:
        f.write(good[: len(good) // 2])
    try:
        refused_before_the_card("damaged", "damaged")
        with open(ledger_file) as f:
            assert f.read() == good[: len(good) // 2], "the damaged ledger was not left as it is"
    finally:
        with open(ledger_file, "w") as f:
            f.write(good)
    # The count survived the damage: the token's next report shows it again, and the unblock
    # that follows is judged against it.
    _, _, puk, puk_max = env.counters(1)
    env.objects()
    assert env.prop("PukRetries") == puk_max - 3 == puk, (env.prop("PukRetries"), puk)
    env.call("UnblockPin", "a{sv}", *options(so_pin=env.sim.puk.encode(), new_pin=NEW_PIN,
                                             request="ULA-4"))
    assert ledger()[env.prop("Serial")]["failed"] == 0, ledger()
    assert env.prop("PukRetries") == puk_max, env.prop("PukRetries")


rc = 1
try:
    rc = Tap([missing_state_directory_is_made_private, workers_get_no_state_directory,
              a_wrong_puk_is_counted_by_tokend_in_the_new_directory,
              the_ledger_count_is_no_method_of_the_token,
              unblock_refused_while_the_ledger_is_read_only,
              unblock_refused_while_the_ledger_disk_is_full,
              unblock_refused_while_the_ledger_is_damaged]).run()
finally:
    env.close()
    shutil.rmtree(mount_dir, ignore_errors=True)
sys.exit(1 if env.failed_shutdown else rc)
