#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""tokenctl audit list and audit verify on the trail that tokend writes as the user tokend, with
a real polkitd and the shipped role rules: a helpdesk member's wrong and right unblocks, a
plain user's refused one, root's wrong PIN and an act cut short after its intent, listed by
user name and filtered; read by a member of tokend-audit, refused to a plain user; the file
found through [Audit] File= of the configuration given with --config."""

import datetime
import fcntl
import grp
import hashlib
import json
import os
import pwd
import signal
import subprocess
import sys
import time

from polkit_env import POLKIT_BUS_CONF, POLKITD, Users, start_polkitd
from tap import Tap, skip
from tokend_env import SO_PIN, SOFTHSM_MODULE, TOKEN, USER_PIN, Env, gvariant_options, need

TOKENCTL = os.environ["TOKENCTL"]
source = os.environ["TOKEND_SOURCE_DIR"]

if os.geteuid() != 0:
    skip("needs root (polkitd, test users and groups)")
need("dbus-daemon", "gdbus", "softhsm2-util", "setpriv", "unshare", "useradd", "groupadd", "flock", POLKITD,
     POLKIT_BUS_CONF, SOFTHSM_MODULE)

users = Users()
TOKEND_USER = users.user("tokend")
users.group("tokend-audit")
suffix = str(os.getpid())
helpdesk = users.user(f"tka-help-{suffix}", ["tokend-helpdesk"])
auditor = users.user(f"tka-audit-{suffix}", ["tokend-audit"])
plain = users.user(f"tka-user-{suffix}")
uid = {u: pwd.getpwnam(u).pw_uid for u in (helpdesk, auditor, plain)}

try:
    env = Env(labels=("audit-a",), extra_policies=(POLKIT_BUS_CONF,), run_as=TOKEND_USER,
              audit_group="tokend-audit")
except BaseException:
    users.close()
    raise
# As /var/log is: every user may pass; the audit directory itself is tokend-audit's.
os.chmod(env.dir, 0o755)
serial = env.get(env.token_by_label("audit-a"), TOKEN, "Serial")
config = f"{env.dir}/tokend.conf"
polkitd = start_polkitd(env, source)
day_at_start = datetime.date.today()


def tokenctl(*args, user=None, stdin=None):
    """tokenctl as user (root when None), from a copy every user can run."""
    cmd = [env.copy_for_other_users(TOKENCTL), *args]
    if user:
        account = pwd.getpwnam(user)
        cmd = ["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}",
               "--init-groups", *cmd]
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=env.env,
                          timeout=60, cwd=env.other_users_dir())


def unblock(user, so_pin, request):
    return tokenctl("--no-ask-password", "unblock", serial, "--request", request,
                    "--so-pin-file", "-", "--new-pin-file", "-", user=user,
                    stdin=f"{so_pin}\n{USER_PIN}\n")


def append_interrupted_intent(pid):
    """An intent with no outcome after it, chained as tokend chains it: what a crash between the
    two leaves behind."""
    with open(env.audit_file, "r+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        lines = f.read().splitlines()
        now = time.time_ns() // 1000
        record = {"seq": len(lines) + 1,
                  "time": datetime.datetime.fromtimestamp(now / 1e6, datetime.timezone.utc)
                  .strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                  "time_usec": now, "operation": "initialize", "serial": serial,
                  "uid": uid[helpdesk], "pid": pid, "request": None, "result": "intent",
                  "error": None, "prev": hashlib.sha256(lines[-1]).hexdigest()}
        f.write(json.dumps(record, separators=(",", ":")).encode() + b"\n")


def make_trail():
    """A helpdesk member's wrong SO PIN and right one, then (a second later, so that a time
    between them can be given) a plain user refused by polkit, root's wrong user PIN, and an
    initialisation whose outcome was never written. Returns that time."""
    p = unblock(helpdesk, "00000000", "ULA-A1")
    assert p.returncode == 5, p.stderr
    p = unblock(helpdesk, SO_PIN, "ULA-A2")
    assert p.returncode == 0, p.stderr
    time.sleep(1.1)
    cut = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    # tokenctl asks tokend's dry run first: refused there, nothing is tried and nothing
    # recorded. The same call from a bus client that tries at once is an act polkit refused.
    before = len(env.audit_records())
    p = unblock(plain, SO_PIN, "ULA-A3")
    assert p.returncode == 3, p.stderr
    assert len(env.audit_records()) == before, env.audit_records()[before:]
    account = pwd.getpwnam(plain)
    p = subprocess.run(["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}",
                        "--init-groups", "gdbus", "call", "--address", env.address, "--dest",
                        "org.tokend.Tokend1", "--object-path", env.token_by_label("audit-a"),
                        "--method", f"{TOKEN}.UnblockPin", "--",
                        gvariant_options(so_pin=SO_PIN.encode(), new_pin=USER_PIN.encode(),
                                         request="ULA-A3")],
                       capture_output=True, text=True, env=env.env, timeout=60,
                       cwd=env.other_users_dir())
    assert "AccessDenied" in p.stderr, (p.returncode, p.stderr)
    p = tokenctl("--no-ask-password", "change-pin", serial, "--pin-file", "-", "--new-pin-file",
                 "-", stdin="000000\n582914\n")
    assert p.returncode == 5, p.stderr
    append_interrupted_intent(4242)
    return cut


def acts(*args, user=None):
    p = tokenctl("--json", "audit", "list", "--config", config, *args, user=user)
    assert p.returncode == 0, p.stdout + p.stderr
    return json.loads(p.stdout)


def the_trail_is_tokends_and_its_group_reads_it():
    st = os.stat(env.audit_file)
    assert st.st_uid == pwd.getpwnam(TOKEND_USER).pw_uid, st
    assert st.st_gid == grp.getgrnam("tokend-audit").gr_gid, st
    assert st.st_mode & 0o7777 == 0o640, oct(st.st_mode)


def list_shows_each_act_once_by_user_name_with_intent_and_outcome_paired():
    p = tokenctl("audit", "list", "--config", config)
    assert p.returncode == 0, p.stderr
    rows = p.stdout.splitlines()
    assert rows[0].split() == ["TIME", "USER", "OPERATION", "TOKEN", "REQUEST", "RESULT"], rows
    want = [(f"{helpdesk} ({uid[helpdesk]})", "unblock-pin", "ULA-A1", "failed (PinIncorrect)"),
            (f"{helpdesk} ({uid[helpdesk]})", "unblock-pin", "ULA-A2", "ok"),
            (f"{plain} ({uid[plain]})", "unblock-pin", "ULA-A3", "refused (AccessDenied)"),
            ("root (0)", "change-pin", "", "failed (PinIncorrect)"),
            (f"{helpdesk} ({uid[helpdesk]})", "initialize", "",
             "interrupted: no outcome recorded")]
    assert len(rows) == 1 + len(want), rows
    for row, (who, operation, request, result) in zip(rows[1:], want):
        assert f"  {who}  " in row and f"  {operation} " in row, (row, who, operation)
        assert f"  {serial}  " in row and row.endswith(f"  {result}"), (row, result)
        assert not request or f"  {request}  " in row, (row, request)

    got = acts()
    assert [(a["operation"], a["result"], a["error"]) for a in got] == [
        ("unblock-pin", "failed", "PinIncorrect"), ("unblock-pin", "ok", None),
        ("unblock-pin", "refused", "AccessDenied"), ("change-pin", "failed", "PinIncorrect"),
        ("initialize", "interrupted", None)], got
    # Acts that reached the token have an intent before their outcome; polkit's refusal has
    # only its outcome, the cut-short act only its intent.
    for a in got[:2] + got[3:4]:
        assert a["intent-seq"] and a["outcome-seq"] > a["intent-seq"], a
    assert got[2]["intent-seq"] is None and got[2]["outcome-seq"], got[2]
    assert got[4]["intent-seq"] and got[4]["outcome-seq"] is None, got[4]
    assert [a["user"] for a in got] == [helpdesk, helpdesk, plain, "root", helpdesk], got
    assert got[4]["pid"] == 4242 and got[0]["uid"] == uid[helpdesk], got


def filters_choose_by_operation_time_reference_and_token():
    got = acts("--operation", "unblock-pin", "--since", "today")
    if datetime.date.today() == day_at_start:
        assert [a["request"] for a in got] == ["ULA-A1", "ULA-A2", "ULA-A3"], got
    got = acts("--operation", "unblock-pin", "--since", cut)
    assert [a["request"] for a in got] == ["ULA-A3"], got
    got = acts("--since", cut, "--until", "now")
    # "now" is the present to the microsecond: the acts of this second are not after it.
    assert [a["operation"] for a in got] == ["unblock-pin", "change-pin", "initialize"], got
    assert acts("--until", "-1d") == [], "acts from before yesterday"
    got = acts("--request", "ULA-A2")
    assert [(a["request"], a["result"]) for a in got] == [("ULA-A2", "ok")], got
    assert len(acts("--token", serial)) == 5
    assert acts("--token", serial + "0") == []
    p = tokenctl("audit", "list", "--config", config, "--token", "none")
    assert p.returncode == 0 and p.stdout == f"No acts in {env.audit_file} match.\n", p.stdout


def a_bad_time_is_a_usage_error_naming_the_option():
    p = tokenctl("audit", "list", "--config", config, "--since", "last tuesday")
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert '--since "last tuesday" is not a time' in p.stderr, p.stderr
    p = tokenctl("audit", "list", "--config", config, "--until", "2026-13-01")
    assert p.returncode == 2 and "--until" in p.stderr, p.stderr


def a_member_of_tokend_audit_verifies_and_lists_the_trail_without_root():
    p = tokenctl("audit", "verify", "--config", config, user=auditor)
    assert p.returncode == 0, p.stderr
    # Eight records of acts, and the one tokend wrote when it started.
    assert p.stdout.startswith(f"{env.audit_file}: 9 lines, hash chain intact."), p.stdout
    got = acts(user=auditor)
    assert [a["request"] for a in got[:3]] == ["ULA-A1", "ULA-A2", "ULA-A3"], got


def a_plain_user_is_told_the_trail_is_not_theirs_to_read():
    for action in ("verify", "list"):
        p = tokenctl("audit", action, "--config", config, user=plain)
        assert p.returncode == 1, (action, p.returncode, p.stderr)
        assert f"Cannot read the audit trail {env.audit_file}: permission denied" in p.stderr, \
            (action, p.stderr)
        assert "tokend-audit" in p.stderr, p.stderr


def a_reader_who_holds_the_lock_on_and_on_costs_an_act_not_a_hang():
    """Reading is enough to lock the file: tokend waits a while for the lock, then refuses the
    act (its intent cannot be written), and does the next one once the lock is let go."""
    account = pwd.getpwnam(auditor)
    holder = subprocess.Popen(["setpriv", f"--reuid={account.pw_uid}",
                               f"--regid={account.pw_gid}", "--init-groups", "flock", "--shared",
                               env.audit_file, "sleep", "60"], cwd=env.other_users_dir(),
                              start_new_session=True)
    try:
        time.sleep(0.5)
        before = len(acts())
        start = time.monotonic()
        p = unblock(helpdesk, SO_PIN, "ULA-A4")
        took = time.monotonic() - start
        assert "locked by another process" in p.stderr, p.stderr
        assert p.returncode == 1, p.returncode
        assert 4 < took < 20, took
        # Readers share the lock.
        assert len(acts()) == before
    finally:
        # flock's child, sleep, holds the lock too: all of its processes go.
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait()
    p = unblock(helpdesk, SO_PIN, "ULA-A5")
    assert p.returncode == 0, p.stderr
    assert [a["request"] for a in acts()[before:]] == ["ULA-A5"]


try:
    cut = make_trail()
    rc = Tap([the_trail_is_tokends_and_its_group_reads_it,
              list_shows_each_act_once_by_user_name_with_intent_and_outcome_paired,
              filters_choose_by_operation_time_reference_and_token,
              a_bad_time_is_a_usage_error_naming_the_option,
              a_member_of_tokend_audit_verifies_and_lists_the_trail_without_root,
              a_plain_user_is_told_the_trail_is_not_theirs_to_read,
              # Last: it adds to the trail.
              a_reader_who_holds_the_lock_on_and_on_costs_an_act_not_a_hang]).run()
finally:
    env.close()
    users.close()
sys.exit(1 if env.failed_shutdown else rc)
