#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""tokend as the shipped unit runs it: as the system user tokend, not root, with a real polkitd,
the shipped actions (which name tokend as their owner, so that polkit answers tokend's
questions about other callers) and the shipped example role rules. No process of tokend runs
as root; a helpdesk member's unblock is authorised and done, a plain user's refused; the site
key and the ledger are tokend's own, and the audit trail tokend's and its group's."""

import os
import pwd
import subprocess
import sys

from polkit_env import POLKIT_BUS_CONF, POLKITD, Users, start_polkitd
from tap import Tap, skip
from tokend_env import (SO_PIN, SOFTHSM_MODULE, TOKEN, USER_PIN, Env, derive_so_pin, need,
                        options)

source = os.environ["TOKEND_SOURCE_DIR"]

if os.geteuid() != 0:
    skip("needs root (polkitd, test users, mount namespace)")
need("dbus-daemon", "gdbus", "softhsm2-util", "pkcs11-tool", "unshare", "setpriv", "useradd",
     POLKITD, POLKIT_BUS_CONF, SOFTHSM_MODULE)

users = Users()
# The shipped policy's owner, and the shipped bus policy's: the user tokend itself.
TOKEND_USER = users.user("tokend")
tokend_uid = pwd.getpwnam(TOKEND_USER).pw_uid
suffix = str(os.getpid())
helpdesk = users.user(f"tkt-help-{suffix}", ["tokend-helpdesk"])
plain = users.user(f"tkt-user-{suffix}")

env = Env(labels=("unpriv-a",), extra_policies=(POLKIT_BUS_CONF,), run_as=TOKEND_USER,
          extra_config="[Unblock]\nSiteKeyFile=@DIR@/site.key\n")
os.chmod(env.dir, 0o755)
path = env.token_by_label("unpriv-a")
serial = env.get(path, TOKEN, "Serial")
polkitd = start_polkitd(env, source)


def call_as(user, method, *args):
    """(error name or None) of a call through gdbus as user (None: root)."""
    cmd = ["gdbus", "call", "--address", env.address, "--dest", "org.tokend.Tokend1",
           "--object-path", path, "--method", f"org.tokend.Tokend1.Token.{method}", "--", *args]
    cwd = None
    if user:
        account = pwd.getpwnam(user)
        cmd = ["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}",
               "--init-groups", *cmd]
        cwd = env.other_users_dir()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env.env, timeout=60, cwd=cwd)
    if p.returncode == 0:
        return None
    marker = "GDBus.Error:"
    return p.stderr[p.stderr.index(marker) + len(marker):].split(":")[0] \
        if marker in p.stderr else p.stderr


def gvariant_bytes(text):
    return "@ay [" + ", ".join(f"0x{b:02x}" for b in text.encode()) + "]"


def unblock_args(so_pin, new_pin, request):
    so = f"'so-pin': <{gvariant_bytes(so_pin)}>, " if so_pin else ""
    return (f"@a{{sv}} {{{so}'new-pin': <{gvariant_bytes(new_pin)}>, "
            f"'request': <'{request}'>}}",)


def uids_of(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                return {int(x) for x in line.split()[1:]}
    return set()


def no_process_of_tokend_runs_as_root():
    assert uids_of(env.tokend.pid) == {tokend_uid}, uids_of(env.tokend.pid)
    workers = env.worker_pids()
    assert workers, "no worker"
    for pid, _ in workers:
        assert uids_of(pid) == {tokend_uid}, (pid, uids_of(pid))


def a_helpdesk_members_unblock_is_authorised_by_polkit_and_done():
    # A wrong SO PIN reaches the token: polkit answered tokend's question about the caller.
    assert call_as(helpdesk, "UnblockPin", *unblock_args("00000000", "482915", "ULA-U1")) == \
        "org.tokend.Tokend1.Error.PinIncorrect"
    assert call_as(helpdesk, "UnblockPin", *unblock_args(SO_PIN, "482915", "ULA-U2")) is None
    rc, out = env.pkcs11_tool("--token-label", "unpriv-a", "--login", "--pin", "482915",
                              "--list-objects")
    assert rc == 0, out


def a_plain_user_is_refused():
    err = call_as(plain, "UnblockPin", *unblock_args(SO_PIN, "573920", "ULA-U3"))
    assert err in ("org.freedesktop.DBus.Error.AccessDenied",
                   "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"), err


def the_site_key_is_read_as_tokend():
    """With the site key tokend's own (mode 0600), the derived SO PIN works."""
    with open(f"{env.dir}/site.key", "rb") as f:
        derived = derive_so_pin(f.read(), serial)
    env.call(path, "ChangePin", "sa{sv}", "so", *options(pin=SO_PIN.encode(),
                                                         new_pin=derived.encode()))
    assert call_as(helpdesk, "UnblockPin", *unblock_args(None, "620481", "ULA-U4")) is None
    rc, out = env.pkcs11_tool("--token-label", "unpriv-a", "--login", "--pin", "620481",
                              "--list-objects")
    assert rc == 0, out


def its_files_are_its_own():
    st = os.stat(f"{env.dir}/site.key")
    assert st.st_uid == tokend_uid, st.st_uid
    assert st.st_mode & 0o077 == 0, oct(st.st_mode)
    # The trail is readable by its group, which outside a set-group-ID directory is tokend's own.
    st = os.stat(env.audit_file)
    assert st.st_uid == tokend_uid, st.st_uid
    assert st.st_gid == pwd.getpwnam(TOKEND_USER).pw_gid, st.st_gid
    assert st.st_mode & 0o777 == 0o640, oct(st.st_mode)
    records = [(r["operation"], r["result"], r["uid"]) for r in env.audit_records()]
    helpdesk_uid = pwd.getpwnam(helpdesk).pw_uid
    assert ("unblock-pin", "ok", helpdesk_uid) in records, records


try:
    rc = Tap([no_process_of_tokend_runs_as_root,
              a_helpdesk_members_unblock_is_authorised_by_polkit_and_done, a_plain_user_is_refused,
              the_site_key_is_read_as_tokend, its_files_are_its_own]).run()
finally:
    env.close()
    users.close()
sys.exit(1 if env.failed_shutdown else rc)
