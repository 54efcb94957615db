# SPDX-License-Identifier: LGPL-2.1-or-later
"""A real polkitd on a test's private bus, with tokend's shipped actions and role rules, and the
users and groups the rules speak of. polkitd reads its actions and rules at fixed paths: a
private mount namespace puts ours there for it alone, touching nothing system-wide."""

import fcntl
import grp
import os
import pwd
import shutil
import subprocess

POLKITD = "/usr/lib/polkit-1/polkitd"
POLKIT_BUS_CONF = "/usr/share/dbus-1/system.d/org.freedesktop.PolicyKit1.conf"
ROLE_GROUPS = ("tokend-helpdesk", "tokend-kiosk", "tokend-provisioning")
# Which test programs use the accounts the tests made (Users): one lock, and a directory a name.
ACCOUNTS_DIR = "/run/tokend-test-accounts"
ACCOUNTS_LOCK = "/run/tokend-test-accounts.lock"


class Users:
    """System users and groups made for one test, removed again by close().

    Test programs run in parallel and share some names (the groups the role rules speak of, the
    user tokend): one that made a name must not remove it while another still uses it. So every
    change is made under one lock (ACCOUNTS_LOCK), each test that uses a name it may have to
    make says so with a file in ACCOUNTS_DIR/NAME/ named by its PID, and a name the tests made
    is removed by the last of them that used it. A name that was there before any test (an
    installed tokend's) is never removed."""

    def __init__(self):
        self.groups, self.users = [], []

    @staticmethod
    def _locked():
        os.makedirs(ACCOUNTS_DIR, exist_ok=True)
        f = open(ACCOUNTS_LOCK, "w")
        fcntl.flock(f, fcntl.LOCK_EX)
        return f

    @staticmethod
    def _hold(name, made):
        d = os.path.join(ACCOUNTS_DIR, name)
        os.makedirs(d, exist_ok=True)
        if made:
            open(os.path.join(d, "made"), "w").close()
        open(os.path.join(d, str(os.getpid())), "w").close()

    @staticmethod
    def _release(name):
        """Whether name was made by the tests and nobody alive uses it any more."""
        d = os.path.join(ACCOUNTS_DIR, name)
        try:
            os.unlink(os.path.join(d, str(os.getpid())))
        except FileNotFoundError:
            pass
        try:
            entries = os.listdir(d)
        except FileNotFoundError:
            return False
        alive = [e for e in entries if e.isdigit() and os.path.exists(f"/proc/{e}")]
        if alive:
            return False
        made = "made" in entries
        shutil.rmtree(d, ignore_errors=True)
        return made

    def group(self, name):
        with self._locked():
            try:
                grp.getgrnam(name)
                made = os.path.exists(os.path.join(ACCOUNTS_DIR, name, "made"))
            except KeyError:
                subprocess.run(["groupadd", "--system", name], check=True)
                made = True
            if made:
                self._hold(name, True)
                self.groups.append(name)

    def user(self, name, groups=()):
        for g in groups:
            self.group(g)
        with self._locked():
            try:
                pwd.getpwnam(name)
                made = os.path.exists(os.path.join(ACCOUNTS_DIR, name, "made"))
            except KeyError:
                cmd = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                       name]
                if groups:
                    cmd[1:1] = ["--groups", ",".join(groups)]
                subprocess.run(cmd, check=True)
                made = True
            if made:
                self._hold(name, True)
                self.users.append(name)
        return name

    def close(self):
        with self._locked():
            for u in self.users:
                if self._release(u):
                    subprocess.run(["userdel", u], check=False)
            for g in self.groups:
                if self._release(g):
                    subprocess.run(["groupdel", g], check=False)
            # The lock file stays (in /run, which a boot clears): another test may hold it open.
            try:
                os.rmdir(ACCOUNTS_DIR)
            except OSError:
                pass
        self.users, self.groups = [], []


# The shipped rules' kiosk grant holds on the active local seat only. Tests whose callers run
# outside any logind session (setpriv) cannot be on a seat; they get the shipped rules with
# that condition taken out, and the booted-systemd suite checks the condition itself.
SEAT_CONDITION = " &&\n        subject.local && subject.active"


def shipped_rules_off_seat(source):
    """The shipped example rules with the kiosk's seat condition removed."""
    with open(f"{source}/systemd/50-tokend-roles.rules.example", encoding="utf-8") as f:
        text = f.read()
    assert SEAT_CONDITION in text, "the kiosk rule no longer says subject.local && subject.active"
    return text.replace(SEAT_CONDITION, "")


def start_polkitd(env, source, rules_text=None, log=None):
    """Starts polkitd on env's bus (made with extra_policies=(POLKIT_BUS_CONF,)) with the
    shipped actions and the shipped example role rules, or the rules given as text; its PID
    goes to env.pids. With log, polkitd writes its messages (the agents that register, for
    one) to that file. Returns the Popen."""
    for d in ("actions", "rules", "empty"):
        os.makedirs(f"{env.dir}/polkit-{d}", exist_ok=True)
        os.chmod(f"{env.dir}/polkit-{d}", 0o755)
    shutil.copy(f"{source}/systemd/org.tokend.policy", f"{env.dir}/polkit-actions/")
    rules = f"{env.dir}/polkit-rules/50-tokend-roles.rules"
    if rules_text is None:
        shutil.copy(f"{source}/systemd/50-tokend-roles.rules.example", rules)
    else:
        with open(rules, "w") as f:
            f.write(rules_text)
    for d in ("actions", "rules"):
        for f in os.listdir(f"{env.dir}/polkit-{d}"):
            os.chmod(f"{env.dir}/polkit-{d}/{f}", 0o644)
    # The paths reach the script as arguments, never split or interpreted by the shell.
    script = ('mount --bind "$1/polkit-actions" /usr/share/polkit-1/actions && '
              'mount --bind "$1/polkit-rules" /etc/polkit-1/rules.d && '
              'mount --bind "$1/polkit-empty" /usr/share/polkit-1/rules.d && '
              'exec "$2" ${3:+--no-debug}')
    out = open(log, "w") if log else subprocess.DEVNULL
    p = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", script,
                          "sh", env.dir, POLKITD] + ([] if log else ["quiet"]),
                         env=env.env, stdout=out, stderr=subprocess.STDOUT)
    if log:
        out.close()
    env.pids.append(p.pid)

    def up():
        q = subprocess.run(["gdbus", "call", "--address", env.address, "--dest",
                            "org.freedesktop.PolicyKit1", "--object-path",
                            "/org/freedesktop/PolicyKit1/Authority", "--method",
                            "org.freedesktop.DBus.Properties.Get",
                            "org.freedesktop.PolicyKit1.Authority", "BackendName"],
                           capture_output=True, text=True, env=env.env)
        return q.returncode == 0
    env.wait_for(up, 10, "polkitd on the private bus")
    return p
