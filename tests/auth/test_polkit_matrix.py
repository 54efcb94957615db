#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Who may do what, decided by a real polkitd on a private bus with the shipped actions and
the shipped example role rules: every Token method for root, a tokend-helpdesk member, a
tokend-provisioning member and a plain user. Allowed calls carry a wrong PIN, so they reach
the token and fail there (proof that polkit let them through) without changing it; denied
calls must be refused before the token is touched."""

import os
import subprocess
import sys

from tap import Tap, skip
from polkit_env import POLKIT_BUS_CONF, POLKITD, Users, start_polkitd
from tokend_env import SOFTHSM_MODULE, Env, need, options

source = os.environ["TOKEND_SOURCE_DIR"]

if os.geteuid() != 0:
    skip("needs root (polkitd, test users, mount namespace)")
need("dbus-daemon", "gdbus", "softhsm2-util", "pkcs11-tool", "unshare", "setpriv", "useradd",
     POLKITD, POLKIT_BUS_CONF, SOFTHSM_MODULE)

WRONG = "000001"
users = Users()
suffix = str(os.getpid())
callers = {
    "root": None,
    "helpdesk": users.user(f"tkt-help-{suffix}", ["tokend-helpdesk"]),
    "provisioning": users.user(f"tkt-prov-{suffix}", ["tokend-provisioning"]),
    "plain": users.user(f"tkt-user-{suffix}"),
}

env = Env(labels=("matrix-a",), extra_policies=(POLKIT_BUS_CONF,))
os.chmod(env.dir, 0o755)
path = env.token_by_label("matrix-a")
polkitd = start_polkitd(env, source)


def ay(text):
    return "@ay [" + ", ".join(f"0x{b:02x}" for b in text.encode()) + "]"


# One call per method; every secret is wrong, so an allowed call fails at the token.
ec_id = env.call(path, "GenerateKeyPair", "sa{sv}", "ec-p256",
                 *options(pin=b"318274", id=b"\x07"))[0]
CALLS = {
    "ListObjects": ("a{sv}", "@a{sv} {}"),
    "GenerateKeyPair": ("sa{sv}", "'ec-p256'", f"@a{{sv}} {{'pin': <{ay(WRONG)}>}}"),
    "CreateRequest": ("aysa{sv}", "@ay [0x07]", "'CN=x'", f"@a{{sv}} {{'pin': <{ay(WRONG)}>}}"),
    "ImportCertificate": ("aya{sv}", "@ay [0x30, 0x00]", f"@a{{sv}} {{'pin': <{ay(WRONG)}>}}"),
    "ChangePin": ("sa{sv}", "'user'",
                  f"@a{{sv}} {{'pin': <{ay(WRONG)}>, 'new-pin': <{ay('529361')}>}}"),
    "UnblockPin": ("a{sv}", f"@a{{sv}} {{'so-pin': <{ay(WRONG)}>, 'new-pin': <{ay('529361')}>, "
                            "'request': <'ULA-1'>}"),
    "Initialize": ("sa{sv}", "'renamed'", f"@a{{sv}} {{'so-pin': <{ay(WRONG)}>}}"),
    "DeleteObject": ("saya{sv}", "'key'", "@ay [0x07]", f"@a{{sv}} {{'pin': <{ay(WRONG)}>}}"),
}
# DESIGN.md's roles, through the shipped example rules; root is always allowed.
ALLOWED = {
    "root": set(CALLS),
    "helpdesk": {"ListObjects", "ChangePin", "UnblockPin"},
    "provisioning": {"ListObjects", "GenerateKeyPair", "CreateRequest", "ImportCertificate",
                     "Initialize", "DeleteObject"},
    "plain": {"ListObjects"},
}
# What an allowed call meets at the token: the wrong secret, or the broken certificate.
AT_TOKEN = {m: "org.tokend.Tokend1.Error.PinIncorrect" for m in CALLS}
AT_TOKEN["ListObjects"] = None
AT_TOKEN["ImportCertificate"] = "org.tokend.Tokend1.Error.InvalidCertificate"
DENIALS = ("org.freedesktop.DBus.Error.AccessDenied",
           "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired")


def call_as(who, method):
    args = CALLS[method][1:]
    cmd = ["gdbus", "call", "--address", env.address, "--dest", "org.tokend.Tokend1",
           "--object-path", path, "--method", f"org.tokend.Tokend1.Token.{method}", "--", *args]
    cwd = None
    if callers[who]:
        cmd = ["setpriv", f"--reuid={callers[who]}", f"--regid={callers[who]}", "--init-groups",
               *cmd]
        cwd = env.other_users_dir()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env.env, timeout=60, cwd=cwd)
    if p.returncode == 0:
        return None
    err = p.stderr
    marker = "GDBus.Error:"
    return err[err.index(marker) + len(marker):].split(":")[0] if marker in err else err


def token_state():
    rc, out = env.pkcs11_tool("--token-label", "matrix-a", "--login", "--pin", "318274",
                              "--list-objects")
    assert rc == 0, out
    return out


def make_test(who):
    def test():
        before = token_state()
        for method in CALLS:
            err = call_as(who, method)
            if method in ALLOWED[who]:
                assert err == AT_TOKEN[method], f"{who} calling {method}: {err}"
            else:
                assert err in DENIALS, f"{who} was not denied {method}: {err}"
        assert token_state() == before, "the token changed"
    test.__name__ = f"{who}_gets_exactly_the_methods_of_the_role"
    return test


def polkitd_gone_means_denied():
    polkitd.terminate()
    polkitd.wait(10)
    err = call_as("helpdesk", "ChangePin")
    assert err in DENIALS, err
    assert call_as("root", "ListObjects") is None


try:
    rc = Tap([make_test(w) for w in callers] + [polkitd_gone_means_denied]).run()
finally:
    env.close()
    users.close()
sys.exit(rc)
