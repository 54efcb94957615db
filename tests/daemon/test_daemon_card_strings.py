#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Card strings are data: a token labelled in Latin-1 ("João" as the bytes 4a 6f e3 6f, not
UTF-8) is listed with its label escaped, and tokens inserted after it still come and go; key
labels that are not UTF-8 are escaped the same way; tokenctl shows control characters in card
strings as text and never sends them raw to the terminal."""

import json
import os
import subprocess
import sys
import time

from tap import Tap
from tokend_env import BUS_NAME, SO_PIN, SOFTHSM_MODULE, TOKEN, USER_PIN, Env, need

need("dbus-daemon", "busctl", "gdbus", "softhsm2-util", "pkcs11-tool", SOFTHSM_MODULE)

TOKENCTL = f"{os.environ['TOKEND_BUILD_DIR']}/cli/tokenctl"
LATIN1 = b"Jo\xe3o"
LATIN1_ESCAPED = "Jo\\xe3o"
AFTER = "after-latin1"
# SGR red: a terminal that got it raw would colour what follows.
ESC_LABEL = "\x1b[31mred"
# Latin-1 and a clear-screen in one key label: both kinds of escaping at once.
KEY_LABEL = b"k\xe9y\x1b[2J"

env = Env(labels=())
monitor_log = open(f"{env.dir}/monitor.log", "w")
monitor = subprocess.Popen(["gdbus", "monitor", "--address", env.address, "--dest", BUS_NAME],
                           stdout=monitor_log, stderr=subprocess.STDOUT, env=env.env)
env.pids.append(monitor.pid)
# tokenctl's own monitor, writing to a file as it would to a terminal.
tokenctl_monitor_log = open(f"{env.dir}/tokenctl-monitor.log", "wb")
tokenctl_monitor = subprocess.Popen([TOKENCTL, "monitor"], stdout=tokenctl_monitor_log,
                                    stderr=subprocess.DEVNULL, env=dict(env.env, NO_COLOR="1"))
env.pids.append(tokenctl_monitor.pid)
time.sleep(0.3)
paths = {}


def seen(text):
    monitor_log.flush()
    with open(f"{env.dir}/monitor.log") as f:
        return text in f.read()


def init_token(label):
    """softhsm2-util stores the label's bytes as given, whatever their encoding."""
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label, "--pin",
                    USER_PIN, "--so-pin", SO_PIN], env=env.env, check=True,
                   stdout=subprocess.DEVNULL)


def token_labelled(label):
    for t in env.tokens():
        if env.get(t, TOKEN, "Label") == label:
            return t
    return None


def tokenctl(*args):
    """tokenctl's raw output bytes, as a terminal would receive them."""
    p = subprocess.run([TOKENCTL, *args], capture_output=True, env=dict(env.env, NO_COLOR="1"),
                       timeout=60, start_new_session=True)
    assert p.returncode == 0, f"tokenctl {args}: exit {p.returncode}\n{p.stdout}\n{p.stderr}"
    return p.stdout


def latin1_token_appears_with_its_label_escaped():
    init_token(LATIN1)
    env.wait_for(lambda: token_labelled(LATIN1_ESCAPED), 10, "the Latin-1 token")
    paths["latin1"] = token_labelled(LATIN1_ESCAPED)
    env.wait_for(lambda: seen(f"TokenAdded (objectpath '{paths['latin1']}',)"), 5, "TokenAdded")


def token_inserted_after_it_appears_too():
    init_token(AFTER)
    env.wait_for(lambda: token_labelled(AFTER), 10, "the token inserted after the Latin-1 one")
    paths["after"] = token_labelled(AFTER)
    env.wait_for(lambda: seen(f"TokenAdded (objectpath '{paths['after']}',)"), 5, "TokenAdded")
    assert env.get(paths["latin1"], TOKEN, "Label") == LATIN1_ESCAPED


def tokenctl_list_shows_the_escaped_label():
    out = tokenctl("list")
    assert LATIN1_ESCAPED.encode() in out, out
    assert LATIN1 not in out, out
    labels = [t["label"] for t in json.loads(tokenctl("--json", "list"))["tokens"]]
    assert LATIN1_ESCAPED in labels, labels


def key_label_from_the_token_is_escaped():
    serial = env.get(paths["latin1"], TOKEN, "Serial")
    p = subprocess.run(["pkcs11-tool", "--module", SOFTHSM_MODULE, "--token-label", LATIN1,
                        "--login", "--pin", USER_PIN, "--keypairgen", "--key-type",
                        "EC:prime256v1", "--id", "4b", "--label", KEY_LABEL],
                       capture_output=True, env=env.env)
    assert p.returncode == 0, p.stdout + p.stderr
    objects = json.loads(tokenctl("--json", "objects", serial))["objects"]
    assert [o["label"] for o in objects] == ["k\\xe9y\x1b[2J"], objects
    out = tokenctl("objects", serial)
    assert b"k\\xe9y\\x1b[2J" in out, out
    assert b"\x1b" not in out, out


def control_characters_in_a_label_reach_the_terminal_as_text():
    init_token(ESC_LABEL)
    env.wait_for(lambda: token_labelled(ESC_LABEL), 10, "the token with ESC in its label")
    serial = env.get(token_labelled(ESC_LABEL), TOKEN, "Serial")
    for args in (("list",), ("status", serial)):
        out = tokenctl(*args)
        assert b"\\x1b[31mred" in out, out
        assert b"\x1b" not in out, out
    # JSON keeps the label as it is and escapes the control character its own way.
    out = tokenctl("--json", "status", serial)
    assert b"\x1b" not in out, out
    assert json.loads(out)["token"]["label"] == ESC_LABEL
    tokenctl_monitor_log.flush()
    env.wait_for(lambda: b"label \"\\x1b[31mred\"" in
                 open(f"{env.dir}/tokenctl-monitor.log", "rb").read(), 5,
                 "tokenctl monitor's line for the new token")
    assert b"\x1b" not in open(f"{env.dir}/tokenctl-monitor.log", "rb").read()


def both_tokens_go_with_signals():
    for name in ("latin1", "after"):
        serial = env.get(paths[name], TOKEN, "Serial")
        subprocess.run(["softhsm2-util", "--delete-token", "--serial", serial], env=env.env,
                       check=True, stdout=subprocess.DEVNULL)
    for name in ("latin1", "after"):
        env.wait_for(lambda: seen(f"TokenRemoved (objectpath '{paths[name]}',)"), 10,
                     f"TokenRemoved of {name}")
    assert paths["latin1"] not in env.tokens() and paths["after"] not in env.tokens()


try:
    rc = Tap([latin1_token_appears_with_its_label_escaped, token_inserted_after_it_appears_too,
              tokenctl_list_shows_the_escaped_label, key_label_from_the_token_is_escaped,
              control_characters_in_a_label_reach_the_terminal_as_text,
              both_tokens_go_with_signals]).run()
finally:
    env.close()
    monitor_log.close()
    tokenctl_monitor_log.close()
sys.exit(1 if env.failed_shutdown else rc)
