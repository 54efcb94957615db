#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""polkitd (122 on Debian 12) reads the installed action file: pkaction lists every action it
declares, each with tokend's system user as its owner, and that owner, not being root, may ask
polkit about another subject, which a user who does not own the actions may not. A private
bus, and a private mount namespace that puts the installed actions, and a passwd with the user
tokend, at the paths polkitd reads, touch nothing system-wide."""

import grp
import os
import pwd
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET

import install_tree
from polkit_env import POLKITD
from tap import skip
from tokend_env import bus_address, reachable_tmp

if os.geteuid() != 0:
    skip("needs root (a private mount namespace for polkitd)")
install_tree.need("dbus-daemon", "gdbus", "pkaction", "unshare", "setpriv")
if not os.path.exists(POLKITD):
    skip(f"{POLKITD} is not installed")

ACTIONS = "/usr/share/polkit-1/actions"
OWNER = "unix-user:tokend"


def free_ids(n):
    """n ids that no user or group of the host has."""
    used = ({u.pw_uid for u in pwd.getpwall()} | {u.pw_gid for u in pwd.getpwall()}
            | {g.gr_gid for g in grp.getgrall()})
    return [i for i in range(60000, 61000) if i not in used][:n]


def nologin_user(name, uid):
    return f"{name}:x:{uid}:{uid}::/nonexistent:/usr/sbin/nologin\n"


class Polkit:
    def __init__(self, tree):
        self.procs = []
        self.dir = tempfile.mkdtemp(prefix="tokend-polkit-test.", dir=reachable_tmp())
        os.chmod(self.dir, 0o755)
        try:
            self.start(tree)
        except BaseException:
            self.close()
            raise

    def start(self, tree):
        # dbus-daemon and polkitd both look the callers up: they get a passwd with tokend
        # (where the host has none) and a user who owns no action.
        with open("/etc/passwd") as f:
            passwd = f.read()
        ids = free_ids(2)
        try:
            self.owner_uid = pwd.getpwnam("tokend").pw_uid
        except KeyError:
            self.owner_uid = ids.pop()
            passwd += nologin_user("tokend", self.owner_uid)
        self.other_uid = ids.pop()
        passwd += nologin_user("tokend-test-other", self.other_uid)
        with open(f"{self.dir}/passwd", "w") as f:
            f.write(passwd)
        os.chmod(f"{self.dir}/passwd", 0o644)
        for d in ("rules", "empty"):
            os.makedirs(f"{self.dir}/{d}", mode=0o755)
        self.address = bus_address(f"{self.dir}/bus")
        with open(f"{self.dir}/bus.conf", "w") as f:
            f.write(f"""<!DOCTYPE busconfig PUBLIC
 "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>{self.address}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
""")
        self.env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.address)
        self.log = open(f"{self.dir}/daemons.log", "w")
        # The paths reach the scripts as arguments, never split or interpreted by the shell.
        self.private('exec dbus-daemon --config-file="$1/bus.conf" --nofork --nopidfile')
        self.wait(self.bus_answers, "the bus")
        self.private('mount --bind "$2" /usr/share/polkit-1/actions && '
                     'mount --bind "$1/rules" /etc/polkit-1/rules.d && '
                     'mount --bind "$1/empty" /usr/share/polkit-1/rules.d && '
                     'exec "$3" --no-debug', tree.path(ACTIONS), POLKITD)
        self.wait(lambda: self.call(["org.freedesktop.DBus.Properties.Get",
                                     "org.freedesktop.PolicyKit1.Authority",
                                     "BackendName"]).returncode == 0, "polkitd")

    def private(self, script, *args):
        """Runs the shell script in a mount namespace of its own, with the test's passwd, $1
        the test's dir and args after it."""
        p = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c",
                              'mount --bind "$1/passwd" /etc/passwd && ' + script, "sh",
                              self.dir, *args], env=self.env, stdout=self.log,
                             stderr=subprocess.STDOUT)
        self.procs.append(p)

    def bus_answers(self):
        # The socket file is there a moment before dbus-daemon listens: only an answer says
        # it is ready.
        return subprocess.run(["gdbus", "call", "--address", self.address, "--dest",
                               "org.freedesktop.DBus", "--object-path", "/org/freedesktop/DBus",
                               "--method", "org.freedesktop.DBus.GetId"],
                              capture_output=True).returncode == 0

    def wait(self, predicate, what):
        end = time.monotonic() + 10
        while time.monotonic() < end:
            if predicate():
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")

    def call(self, method_and_args, uid=None):
        cmd = ["gdbus", "call", "--address", self.address, "--dest",
               "org.freedesktop.PolicyKit1", "--object-path",
               "/org/freedesktop/PolicyKit1/Authority", "--method", *method_and_args]
        if uid is not None:
            cmd = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, env=self.env, cwd="/")

    def daemons_log(self):
        self.log.flush()
        with open(f"{self.dir}/daemons.log") as f:
            return f.read()

    def close(self):
        for p in reversed(self.procs):
            p.terminate()
            p.wait()
        if getattr(self, "log", None):
            self.log.close()
        subprocess.run(["rm", "-rf", "--", self.dir], check=False)


tree = install_tree.Tree()


def declared_actions():
    root = ET.parse(tree.path(f"{ACTIONS}/org.tokend.policy")).getroot()
    return sorted(a.get("id") for a in root.findall("action"))


def test_pkaction_lists_every_action_with_tokend_as_owner():
    listed = install_tree.run(["pkaction"], env=polkit.env).stdout.split()
    assert sorted(listed) == declared_actions(), (listed, declared_actions())
    for action in declared_actions():
        out = install_tree.run(["pkaction", "--verbose", "--action-id", action],
                               env=polkit.env).stdout
        assert f"org.freedesktop.policykit.owner -> {OWNER}" in out, out


def check_for_another_subject(uid):
    # This test's own process, root's: another subject than the caller.
    subject = (f"('unix-process', {{'pid': <uint32 {os.getpid()}>, "
               "'start-time': <uint64 0>})")
    return polkit.call(["org.freedesktop.PolicyKit1.Authority.CheckAuthorization", subject,
                        "org.tokend.unblock-pin", "@a{ss} {}", "0", ""], uid=uid)


def test_owner_may_check_for_another_subject():
    p = check_for_another_subject(polkit.owner_uid)
    assert p.returncode == 0, p.stderr + polkit.daemons_log()
    # Answered (polkit allows root's process everything): (is_authorized, is_challenge, details).
    assert p.stdout.startswith("((true, false,"), p.stdout


def test_other_user_may_not():
    p = check_for_another_subject(polkit.other_uid)
    assert p.returncode != 0 and "Only trusted callers" in p.stderr, (
        p.stdout + p.stderr + polkit.daemons_log())


try:
    polkit = Polkit(tree)
except BaseException:
    tree.close()
    raise
install_tree.main([test_pkaction_lists_every_action_with_tokend_as_owner,
                   test_owner_may_check_for_another_subject, test_other_user_may_not],
                  polkit, tree)
