#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""tokenctl against tokend with a real polkitd on the private bus: a refusal and a
"needs authentication" answer both end in exit status 3 at once, never in a hang."""

import json
import os
import pty
import select
import subprocess
import sys
import time

from polkit_env import POLKIT_BUS_CONF, POLKITD, start_polkitd
from tap import Tap, skip
from tokend_env import SOFTHSM_MODULE, USER_PIN, Env, exec_as, need

TOKENCTL = os.environ["TOKENCTL"]
NOBODY = 65534

need("dbus-daemon", "softhsm2-util", "setpriv", "unshare", POLKITD, SOFTHSM_MODULE)
if not os.path.exists(POLKIT_BUS_CONF):
    skip("polkit's D-Bus policy is not installed")

RULES = """
polkit.addRule(function(action, subject) {
    if (subject.user != "nobody")
        return polkit.Result.NOT_HANDLED;
    if (action.id == "org.tokend.generate-key")
        return polkit.Result.NO;
    if (action.id == "org.tokend.change-pin")
        return polkit.Result.AUTH_ADMIN;
    if (action.id == "org.tokend.delete-object")
        return polkit.Result.YES;
    return polkit.Result.NOT_HANDLED;
});
"""

env = Env(labels=("pk-a",), extra_policies=(POLKIT_BUS_CONF,))
os.chmod(env.dir, 0o755)
def tokenctl_for_nobody():
    """tokenctl runs as nobody from a copy that nobody can reach, not from the build tree."""
    return env.copy_for_other_users(TOKENCTL)


def tj(*args, stdin=None):
    cmd = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
           tokenctl_for_nobody(), "--json", *args]
    start = time.monotonic()
    p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=env.env,
                       timeout=60, start_new_session=True, cwd=env.other_users_dir())
    return p.returncode, json.loads(p.stdout), time.monotonic() - start


def refused_by_polkit_exits_3():
    rc, doc, _ = tj("keygen", "pk-a", "--type", "ec-p256", "--pin-file", "-",
                    stdin=USER_PIN + "\n")
    assert rc == 3, doc
    assert doc["error"]["name"] == "org.freedesktop.DBus.Error.AccessDenied", doc


def authentication_needed_without_a_terminal_fails_at_once():
    rc, doc, took = tj("change-pin", "pk-a", "--pin-file", "-", "--new-pin-file", "-",
                       stdin=USER_PIN + "\n582914\n")
    assert rc == 3, doc
    # Only polkit can say "authentication needed": this also proves polkit was asked.
    assert doc["error"]["name"] == \
        "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired", doc
    assert "terminal" in doc["error"]["message"], doc
    assert took < 10, took


def granted_by_polkit_reaches_the_token():
    rc, doc, _ = tj("delete", "pk-a", "--yes", "--key", "77", "--pin-file", "-", stdin=USER_PIN + "\n")
    # Allowed: what comes back is the token's answer about a key that is not there.
    assert rc not in (0, 3), doc
    assert not doc["error"]["name"].startswith("org.freedesktop.DBus.Error."), doc


def agents_on_our_bus():
    """PIDs of pkttyagent processes talking to this test's bus."""
    found = []
    p = subprocess.run(["pgrep", "-f", "pkttyagent --notify-fd"], capture_output=True, text=True)
    for pid in p.stdout.split():
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if f"DBUS_SYSTEM_BUS_ADDRESS={env.address}".encode() in f.read().split(b"\0"):
                    found.append(int(pid))
        except OSError:
            continue
    return found


def on_a_terminal_the_agent_is_started_and_stopped_and_nothing_hangs():
    program = tokenctl_for_nobody()
    pid, fd = pty.fork()
    if pid == 0:
        exec_as([program, "change-pin", "pk-a"], env.env, uid=NOBODY, cwd=env.other_users_dir())
    out, answers = b"", [(b"Current user PIN: ", USER_PIN), (b"New user PIN: ", "582914"),
                         (b"Repeat new user PIN: ", "582914")]
    end = time.monotonic() + 30
    try:
        while time.monotonic() < end:
            r, _, _ = select.select([fd], [], [], 0.5)
            if not r:
                continue
            try:
                chunk = os.read(fd, 1024)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
            if answers and answers[0][0] in out:
                os.write(fd, (answers.pop(0)[1] + "\n").encode())
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    # polkit asks the agent of a login session; there is none here, so the answer is
    # "authentication required" - at once, with the agent gone again.
    assert os.waitstatus_to_exitcode(status) == 3, out
    assert b"Authentication is required" in out or b"authenticat" in out, out
    assert b"582914" not in out, out
    with open(f"{env.dir}/polkitd.log") as f:
        log = f.read()
    assert "Registered Authentication Agent" in log and "pkttyagent --notify-fd" in log, log
    time.sleep(0.2)
    # Agents of this test's bus only: other tests on the machine may run theirs.
    assert not agents_on_our_bus(), agents_on_our_bus()


def reading_needs_no_authorisation():
    rc, doc, _ = tj("objects", "pk-a")
    assert rc == 0, doc
    assert doc["objects"] == [], doc


try:
    try:
        start_polkitd(env, env.source, rules_text=RULES, log=f"{env.dir}/polkitd.log")
    except AssertionError as e:
        skip(f"polkitd did not start on the private bus: {e}".splitlines()[0])
    rc = Tap([refused_by_polkit_exits_3, authentication_needed_without_a_terminal_fails_at_once,
              granted_by_polkit_reaches_the_token,
              on_a_terminal_the_agent_is_started_and_stopped_and_nothing_hangs,
              reading_needs_no_authorisation]).run()
finally:
    env.close()
sys.exit(rc)
