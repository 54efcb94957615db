#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""With a site key configured, UnblockPin and Initialize need no SO PIN from the caller:
tokend derives it (HMAC-SHA256 of the serial under the site key, as digits)."""

import sys

from tap import Tap
from tokend_env import SO_PIN, SOFTHSM_MODULE, TOKEN, USER_PIN, Env, derive_so_pin, need, options

need("dbus-daemon", "busctl", "softhsm2-util", "pkcs11-tool", SOFTHSM_MODULE)

env = Env(labels=("site",), extra_config="[Unblock]\nSiteKeyFile=@DIR@/site.key\n")
path = env.token_by_label("site")
serial = env.get(path, TOKEN, "Serial")


def derived():
    with open(f"{env.dir}/site.key", "rb") as f:
        return derive_so_pin(f.read(), serial)


def so_login_works(so_pin):
    """An SO login (setting the user PIN, which needs one) succeeds with this SO PIN."""
    rc, out = env.pkcs11_tool("--token-label", "site", "--login", "--login-type", "so",
                              "--so-pin", so_pin, "--init-pin", "--new-pin", USER_PIN)
    return rc == 0


def unblock_without_so_pin_uses_the_derived_one():
    # Give the token the derived SO PIN, as Initialize would on a fresh token.
    env.call(path, "ChangePin", "sa{sv}", "so", *options(pin=SO_PIN.encode(),
                                                         new_pin=derived().encode()))
    assert so_login_works(derived())
    assert not so_login_works(SO_PIN)
    env.call(path, "UnblockPin", "a{sv}", *options(new_pin=b"270419", request="UNLOCK-7"))
    rc, out = env.pkcs11_tool("--token-label", "site", "--login", "--pin", "270419",
                              "--list-objects")
    assert rc == 0, out


def initialize_without_so_pin_keeps_the_derived_one():
    env.call(path, "Initialize", "sa{sv}", "site", *options(new_pin=USER_PIN.encode()))
    env.wait_for(lambda: env.tokens(), 10, "the token after initialisation")
    assert so_login_works(derived())


try:
    rc = Tap([unblock_without_so_pin_uses_the_derived_one,
              initialize_without_so_pin_keeps_the_derived_one]).run()
finally:
    env.close()
sys.exit(1 if env.failed_shutdown else rc)
