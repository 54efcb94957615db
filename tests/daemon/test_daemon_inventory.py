#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The inventory follows SoftHSM2's slots: a token initialised while tokend runs appears
(TokenAdded, InterfacesAdded), a deleted one goes (TokenRemoved, InterfacesRemoved), and a
token's state change reaches clients as PropertiesChanged."""

import subprocess
import sys
import time

from tap import Tap
from tokend_env import (BUS_NAME, ROOT, SOFTHSM_MODULE, TOKEN, USER_PIN, Env, gvariant_options,
                        need, options)

need("dbus-daemon", "busctl", "gdbus", "softhsm2-util", SOFTHSM_MODULE)

env = Env(labels=("inv-a",))
monitor_log = open(f"{env.dir}/monitor.log", "w")
monitor = subprocess.Popen(["gdbus", "monitor", "--address", env.address, "--dest", BUS_NAME],
                           stdout=monitor_log, stderr=subprocess.STDOUT, env=env.env)
env.pids.append(monitor.pid)
time.sleep(0.3)


def seen(text):
    monitor_log.flush()
    with open(f"{env.dir}/monitor.log") as f:
        return text in f.read()


def token_initialised_later_appears_with_signals():
    env.init_token("inv-b")
    env.wait_for(lambda: len(env.tokens()) == 2, 10, "the new token")
    path = env.token_by_label("inv-b")
    env.wait_for(lambda: seen(f"TokenAdded (objectpath '{path}',)"), 5, "TokenAdded")
    env.wait_for(lambda: seen(f"InterfacesAdded (objectpath '{path}'"), 5, "InterfacesAdded")
    managed = env.busctl("call", BUS_NAME, ROOT, "org.freedesktop.DBus.ObjectManager",
                         "GetManagedObjects")["data"][0]
    assert managed[path][TOKEN]["Label"]["data"] == "inv-b", managed[path]


def deleted_token_goes_with_signals():
    path = env.token_by_label("inv-b")
    serial = env.get(path, TOKEN, "Serial")
    subprocess.run(["softhsm2-util", "--delete-token", "--serial", serial], env=env.env,
                   check=True, stdout=subprocess.DEVNULL)
    env.wait_for(lambda: len(env.tokens()) == 1, 10, "the token to go")
    env.wait_for(lambda: seen(f"TokenRemoved (objectpath '{path}',)"), 5, "TokenRemoved")
    env.wait_for(lambda: seen(f"InterfacesRemoved (objectpath '{path}'"), 5, "InterfacesRemoved")
    assert [s for p, s in env.worker_pids() if s == serial] == [], "its worker still runs"


def wrong_pin_changes_pin_state_with_properties_changed():
    path = env.token_by_label("inv-a")
    assert env.get(path, TOKEN, "UserPinState") == "ok"
    err = env.call_error(path, "ListObjects", gvariant_options(pin=b"000000"))
    assert err and err[0] == "org.tokend.Tokend1.Error.PinIncorrect", err
    # SoftHSM2 reports a wrong try as COUNT_LOW; the property is current when the error comes.
    assert env.get(path, TOKEN, "UserPinState") == "count-low"
    env.wait_for(lambda: seen("'UserPinState': <'count-low'>"), 5, "PropertiesChanged")


def operations_report_progress_and_busy():
    path = env.token_by_label("inv-a")
    env.call(path, "GenerateKeyPair", "sa{sv}", "ec-p256", *options(pin=USER_PIN.encode()))
    for stage in ("started", "running", "done"):
        env.wait_for(lambda: seen(f"{TOKEN}.Progress ('generate-key', '{stage}')"), 5,
                     f"Progress {stage}")
    env.wait_for(lambda: seen("'Busy': <true>") and seen("'Busy': <false>"), 5,
                 "Busy going true and back")


try:
    rc = Tap([operations_report_progress_and_busy, token_initialised_later_appears_with_signals, deleted_token_goes_with_signals,
              wrong_pin_changes_pin_state_with_properties_changed]).run()
finally:
    env.close()
    monitor_log.close()
sys.exit(1 if env.failed_shutdown else rc)
