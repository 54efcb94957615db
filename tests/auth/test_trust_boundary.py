# SPDX-License-Identifier: LGPL-2.1-or-later
"""The trust boundary, tried as a local user with no role would (uid nobody), a kiosk account
and root, against tokend on a simulated MyEID card with a real polkitd, the shipped policy and
the shipped example rules (the kiosk's seat condition left out: no caller here has a seat).
What is checked is what an attacker would try: lock a holder's card
by presenting PINs, break the audit trail with a hostile reference, exhaust the daemon with huge
options, reach the SO PIN from a kiosk, spend a PUK's last try through the queue."""

import grp
import os
import pwd
import re
import subprocess
import sys
import time

from card_env import CardEnv, need_cards
from polkit_env import POLKIT_BUS_CONF, POLKITD, Users, shipped_rules_off_seat, start_polkitd
from tap import Tap, skip
from tokend_env import gvariant_options, need, options

if os.geteuid() != 0:
    skip("needs root (polkitd, test users, mount namespace, pcscd)")
need("dbus-daemon", "gdbus", "unshare", "setpriv", "useradd", POLKITD, POLKIT_BUS_CONF)
need_cards()

SOURCE = os.environ["TOKEND_SOURCE_DIR"]
NOBODY = pwd.getpwnam("nobody").pw_uid
NEW_PIN = b"604173"
users = Users()
kiosk = users.user(f"tkt-kiosk-{os.getpid()}", ["tokend-kiosk"])
env = None
try:
    env = CardEnv(extra_policies=(POLKIT_BUS_CONF,))
    d = env.daemon
    # The bus socket lives in the daemon's dir, which the other users must reach.
    os.chmod(d.dir, 0o755)
    # The callers run outside any logind session: the kiosk's seat condition cannot hold here
    # (tests/system/checks/85-kiosk-session.sh checks it on a booted systemd).
    start_polkitd(d, SOURCE, rules_text=shipped_rules_off_seat(SOURCE))
    flood = d.copy_for_other_users(os.environ["BUS_FLOOD"])
except BaseException:
    if env:
        env.close()
    users.close()
    raise
trail = f"{d.dir}/audit.jsonl"


def as_user(user, method, *args, timeout=60):
    """(error name or None, message) of a call through gdbus as user (None: root)."""
    cmd = ["gdbus", "call", "--address", d.address, "--dest", "org.tokend.Tokend1",
           "--object-path", env.path, "--method", f"org.tokend.Tokend1.Token.{method}", "--",
           *args]
    if user:
        gid = pwd.getpwnam(user).pw_gid
        cmd = ["setpriv", f"--reuid={user}", f"--regid={gid}", "--init-groups", *cmd]
    p = subprocess.run(cmd, capture_output=True, text=True, env=d.env, timeout=timeout,
                       cwd=d.other_users_dir())
    if p.returncode == 0:
        return None, p.stdout
    m = re.search(r"GDBus\.Error:([\w.]+): (.*)", p.stderr, re.S)
    return (m.group(1), m.group(2).strip()) if m else (p.stderr, "")


def trail_verifies():
    p = subprocess.run([f"{d.build}/tests/daemon/audit-verify", trail], capture_output=True,
                       text=True)
    assert p.returncode == 0, p.stdout + p.stderr


def rss_kib():
    with open(f"/proc/{d.tokend.pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1))


def presenting_a_pin_as_nobody_is_refused_before_the_card_and_recorded():
    before = env.counters(1)
    for pin in (b"000000", env.sim.pin.encode()):
        err, _ = as_user("nobody", "ListObjects", gvariant_options(pin=pin))
        assert err in ("org.freedesktop.DBus.Error.AccessDenied",
                       "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"), err
    assert env.counters(1) == before, (before, env.counters(1))
    refused = [r for r in d.audit_records() if r["operation"] == "list-objects"]
    assert len(refused) == 2, refused
    for r in refused:
        assert (r["uid"], r["result"], r["serial"]) == (NOBODY, "refused", env.prop("Serial")), r
        assert r["error"] in ("AccessDenied", "InteractiveAuthorizationRequired"), r


def listing_without_a_pin_works_for_anyone():
    err, out = as_user("nobody", "ListObjects", "@a{sv} {}")
    assert err is None, err
    assert out.startswith("(@aa{sv} [") or out.startswith("(["), out


def a_hostile_reference_is_an_invalid_argument_and_the_trail_takes_the_next_act():
    before = len(d.audit_records())
    for ref in ("A" * 70000, "   ", "ULA-2026\n0042", "U" * 65, "ULA-\x1b[31m-1"):
        err, message = as_user("nobody", "UnblockPin", gvariant_options(
            so_pin=b"00000000", new_pin=NEW_PIN, request=ref.replace("\n", "\\n")))
        assert err == "org.tokend.Tokend1.Error.InvalidArgument", (ref[:20], err, message)
        assert "request" in message, message
    assert len(d.audit_records()) == before, d.audit_records()[before:]
    trail_verifies()
    # The next act of someone who may: done and recorded.
    env.call("ChangePin", "sa{sv}", "user", *options(pin=env.sim.pin.encode(), new_pin=NEW_PIN))
    assert env.login_works(NEW_PIN.decode())
    last = d.audit_records()[-2:]
    assert [(r["operation"], r["result"]) for r in last] == [("change-pin", "intent"),
                                                             ("change-pin", "ok")], last
    trail_verifies()


def flood_as_nobody(kind, count, size):
    p = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                        flood, env.path, kind, str(count), str(size)], capture_output=True,
                       text=True, env=d.env, cwd=d.other_users_dir(), timeout=120)
    assert p.returncode == 0, p.stderr
    name, ms = p.stdout.split()
    return name, float(ms)


def oversized_options_from_nobody_are_refused_at_once_and_cost_no_memory():
    start_rss = rss_kib()
    for kind, count, size in (("chain", 10_000_000, 0), ("email", 65536, 16),
                              ("dns", 65536, 16), ("dns", 1, 1 << 20)):
        # The same message sent to sd-bus's own Peer.Ping on tokend's object: what the bus
        # and the message's transport cost, which tokend's refusal adds to.
        # The best of five of each, taken in turns: other work on the machine adds to single
        # runs, and alike to both.
        pings, runs = [], []
        for _ in range(5):
            pings.append(flood_as_nobody("ping-" + kind, count, size)[1])
            runs.append(flood_as_nobody(kind, count, size))
        for name, _ in runs:
            assert name == "org.tokend.Tokend1.Error.InvalidArgument", (kind, count, name)
        baseline, ms = min(pings), min(ms for _, ms in runs)
        print(f"# {kind} x {count} of {size} bytes: refused in {ms:.1f} ms, "
              f"{ms - baseline:.1f} ms more than the bus's own {baseline:.1f} ms")
        assert ms - baseline < 100, (kind, ms, baseline)
    grown = rss_kib() - start_rss
    print(f"# tokend RSS grew by {grown} KiB")
    assert grown < 8 * 1024, grown


def a_kiosk_account_changes_the_user_pin_and_cannot_present_the_so_pin():
    err, message = as_user(kiosk, "ChangePin", "'user'",
                           gvariant_options(pin=NEW_PIN, new_pin=b"530618"))
    # What polkit's isInGroup() would have seen, should the rule not have matched.
    groups = [grp.getgrgid(g).gr_name for g in os.getgrouplist(kiosk, pwd.getpwnam(kiosk).pw_gid)]
    assert err is None, (err, message, groups)
    assert env.login_works("530618")
    before = (env.counters(1), env.counters(3))
    for method, args in (("ChangePin", ["'so'", gvariant_options(pin=env.sim.puk.encode(),
                                                                  new_pin=b"71946203")]),
                         ("UnblockPin", [gvariant_options(so_pin=env.sim.puk.encode(),
                                                          new_pin=b"604173",
                                                          request="ULA-KIOSK")]),
                         ("Initialize", ["'kiosk'", gvariant_options(
                             so_pin=env.sim.so_pin.encode(), new_pin=b"604173")])):
        err, _ = as_user(kiosk, method, *args)
        assert err in ("org.freedesktop.DBus.Error.AccessDenied",
                       "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"), (method, err)
    assert (env.counters(1), env.counters(3)) == before, before


def two_queued_unblocks_do_not_spend_the_puks_last_try():
    # Wrong PUKs until tokend's count shows 2 tries left (-1 before its first count).
    while not 0 <= env.prop("PukRetries") <= 2:
        err = env.call_error("UnblockPin", gvariant_options(so_pin=b"99999999", new_pin=NEW_PIN,
                                                            request="ULA-SPEND"))
        assert err and err[0] == "org.tokend.Tokend1.Error.PinIncorrect", err
    puk_before = env.counters(1)[2]
    assert env.prop("PukState") != "final-try"
    # A slow card keeps the first call running while the second waits in the queue.
    env.card.delay(40)
    try:
        calls = [subprocess.Popen(
            ["gdbus", "call", "--address", d.address, "--dest", "org.tokend.Tokend1",
             "--object-path", env.path, "--method", "org.tokend.Tokend1.Token.UnblockPin",
             gvariant_options(so_pin=b"99999999", new_pin=NEW_PIN, request=f"ULA-Q{i}")],
            env=d.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for i in range(2)]
        for c in calls:
            d.pids.append(c.pid)
        errors = sorted(re.search(r"GDBus\.Error:([\w.]+)", c.communicate(timeout=120)[1])
                        .group(1).rsplit(".", 1)[-1] for c in calls)
    finally:
        env.card.delay(0)
    assert errors == ["PinIncorrect", "SoPinFinalTry"], (errors, env.prop("PukRetries"),
                                                         env.prop("PukState"),
                                                         env.prop("PukRetriesSource"))
    assert env.counters(1)[2] == puk_before - 1, (puk_before, env.counters(1))
    assert env.prop("PukState") == "final-try"
    refused = [r for r in d.audit_records() if r.get("request") in ("ULA-Q0", "ULA-Q1")]
    assert ("refused", "SoPinFinalTry") in [(r["result"], r["error"]) for r in refused], refused


rc = 1
try:
    rc = Tap([presenting_a_pin_as_nobody_is_refused_before_the_card_and_recorded,
              listing_without_a_pin_works_for_anyone,
              a_hostile_reference_is_an_invalid_argument_and_the_trail_takes_the_next_act,
              oversized_options_from_nobody_are_refused_at_once_and_cost_no_memory,
              a_kiosk_account_changes_the_user_pin_and_cannot_present_the_so_pin,
              two_queued_unblocks_do_not_spend_the_puks_last_try]).run()
finally:
    env.close()
    users.close()
    if env.failed_shutdown:
        rc = 1
sys.exit(rc)
