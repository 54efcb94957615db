#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A card pulled from its reader leaves tokend's Tokens within a second, whatever its worker is
doing: idle, or stuck in the middle of an unblock (a worker stopped with SIGSTOP stands for a
module that never returns; its caller then hears TokenRemoved at once). Put back, it is listed
again, once, and the first unblock works."""

import os
import signal
import subprocess
import sys
import time

from card_env import MANAGER, ROOT, CardEnv, gvariant_options, need_cards, options
from tap import Tap

need_cards()

env = None
NEW_PIN = b"703916"


def gone_within(seconds, path):
    """Seconds from now until the token is out of Tokens and TokenRemoved was sent; fails past
    the bound."""
    d = env.daemon
    start = time.monotonic()
    d.wait_for(lambda: path not in d.get(ROOT, MANAGER, "Tokens") and
               ("TokenRemoved", path) in env.signals(), seconds, "the token to leave Tokens")
    return time.monotonic() - start


def an_idle_card_leaves_at_once():
    global env
    env = CardEnv()
    env.start_monitor()
    path = env.path
    env.card.remove()
    took = gone_within(1.0, path)
    print(f"# an idle card left Tokens {took * 1000:.0f} ms after it was pulled")
    env.card.insert()
    env.path = env.wait_token()


def a_card_pulled_mid_unblock_leaves_at_once_and_the_call_says_so():
    d = env.daemon
    path = env.path
    serial = d.get(path, "org.tokend.Tokend1.Token", "Serial")
    # A slow card: the unblock is running when its worker is stopped and the card goes.
    env.card.delay(400)
    call = subprocess.Popen(
        ["gdbus", "call", "--address", d.address, "--dest", "org.tokend.Tokend1",
         "--object-path", path, "--method", "org.tokend.Tokend1.Token.UnblockPin",
         gvariant_options(so_pin=env.sim.puk.encode(), new_pin=NEW_PIN, request="ULA-PULL")],
        env=d.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    d.pids.append(call.pid)
    try:
        d.wait_for(lambda: d.get(path, "org.tokend.Tokend1.Token", "Busy") is True, 10,
                   "the unblock to be running")
        time.sleep(0.5)
        workers = [pid for pid, s in d.worker_pids() if s == serial]
        assert len(workers) == 1, d.worker_pids()
        os.kill(workers[0], signal.SIGSTOP)
        env.card.remove()
        pulled = time.monotonic()
        took = gone_within(1.0, path)
        print(f"# a busy card left Tokens {took * 1000:.0f} ms after it was pulled")
        _, err = call.communicate(timeout=10)
        answered = time.monotonic() - pulled
        assert "org.tokend.Tokend1.Error.TokenRemoved" in err, err
        assert answered < 1.5, answered
    finally:
        env.card.delay(0)
    # The stopped worker does not outlive its token (SIGKILL follows SIGTERM).
    d.wait_for(lambda: not os.path.exists(f"/proc/{workers[0]}") or
               open(f"/proc/{workers[0]}/stat").read().rsplit(")", 1)[1].split()[0] == "Z", 10,
               "the stopped worker to be gone")
    records = [(r["operation"], r["result"], r.get("error"), r.get("request"))
               for r in d.audit_records()]
    assert ("unblock-pin", "failed", "TokenRemoved", "ULA-PULL") in records, records


def put_back_it_is_listed_once_and_the_first_unblock_works():
    before = [s for s, _ in env.signals()].count("TokenAdded")
    env.card.insert()
    env.path = env.wait_token()
    time.sleep(1)
    assert [s for s, _ in env.signals()].count("TokenAdded") == before + 1, env.signals()
    env.call("UnblockPin", "a{sv}", *options(so_pin=env.sim.puk.encode(), new_pin=NEW_PIN,
                                             request="ULA-BACK"))
    assert env.login_works(NEW_PIN.decode())


try:
    rc = Tap([an_idle_card_leaves_at_once,
              a_card_pulled_mid_unblock_leaves_at_once_and_the_call_says_so,
              put_back_it_is_listed_once_and_the_first_unblock_works]).run()
finally:
    failed_shutdown = False
    if env:
        env.close()
        failed_shutdown = env.failed_shutdown
sys.exit(1 if failed_shutdown else rc)
