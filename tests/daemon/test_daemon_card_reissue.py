#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A returned card issued again: Initialize through tokend on a simulated MyEID card that
OpenSC's pkcs15-init personalised with its myeid profile, and then again on the same card, which
tokend personalised. Erasing a personalised card takes its SO PIN on the card itself; a wrong one
erases nothing. Each step is checked against the card's own counters and state (tokend-sim's
control socket) and with pkcs11-tool."""

import re
import subprocess
import sys

from card_env import CardEnv, gvariant_options, need_cards, options
from tokend_env import BUS_NAME, TOKEN
from tap import Tap

need_cards()

# --atr HEX: the card presents another MyEID implementation's ATR.
atr = sys.argv[sys.argv.index("--atr") + 1] if "--atr" in sys.argv else None
env = CardEnv(label="returned card", **({"atr": atr} if atr else {}))
state = {"pin": env.sim.pin}


def card_status():
    reply = env.card.control("status")
    return dict(kv.split("=", 1) for kv in reply.split()[1:])


def give_the_card_a_key(label):
    key_id = env.call("GenerateKeyPair", "sa{sv}", "ec-p256",
                      *options(pin=state["pin"].encode(), label=label))[0]
    assert ("public-key", bytes(key_id).hex(), label) in env.p11_objects(), env.p11_objects()


def reissue(label, new_pin):
    env.call("Initialize", "sa{sv}", label,
             *options(so_pin=env.sim.so_pin.encode(), new_pin=new_pin.encode()))
    state["pin"] = new_pin
    env.daemon.wait_for(lambda: env.prop("Label") == label, 5, "the new label")
    assert env.p11_objects(pin=new_pin) == [], env.p11_objects(pin=new_pin)
    tries, max_tries, puk, puk_max = env.counters(1)
    assert (tries, puk) == (max_tries, puk_max), env.counters(1)
    assert env.counters(3)[0] == env.counters(3)[1], env.counters(3)
    assert card_status()["activated"] == "1", card_status()
    assert env.login_works(new_pin)
    rc, out = env.pkcs11_tool("-L")
    assert rc == 0 and f"token label        : {label}\n" in out, out


def wrong_so_pin_erases_nothing_and_says_the_tries_left():
    give_the_card_a_key("returned-key")
    before = env.p11_objects(pin=state["pin"])
    so_tries = env.counters(3)[0]
    err = env.call_error("Initialize", "'reissued'",
                         gvariant_options(so_pin=b"24681357", new_pin=b"735190"))
    assert err and err[0] == "org.tokend.Tokend1.Error.PinIncorrect", err
    assert re.search(rf"\b{so_tries - 1} tries left", err[1]), err
    assert "24681357" not in err[1]
    assert env.counters(3)[0] == so_tries - 1, env.counters(3)
    assert card_status()["activated"] == "1", card_status()
    assert env.p11_objects(pin=state["pin"]) == before
    assert env.prop("Label").startswith("returned card")
    env.daemon.wait_for(lambda: env.prop("SoPinRetries") == so_tries - 1, 5,
                        "SoPinRetries one lower")


def initialize_a_card_that_pkcs15_init_personalised():
    reissue("reissued", "735190")


def initialize_the_same_card_again():
    give_the_card_a_key("second-key")
    reissue("reissued again", "604817")


def a_card_pulled_while_it_is_personalised_is_said_to_be_removed():
    # Slowed as a real card is, and taken out once pkcs15-init is at work on it: the answer
    # names the removal (tokend's, or the worker's when pkcs15-init gives up first), not
    # pkcs15-init's complaint about the card that went.
    env.card.delay(20)
    call = subprocess.Popen(
        ["gdbus", "call", "--address", env.daemon.address, "--dest", BUS_NAME, "--object-path",
         env.path, "--method", f"{TOKEN}.Initialize", "--", "'pulled'",
         gvariant_options(so_pin=env.sim.so_pin.encode(), new_pin=b"530128")],
        env=env.daemon.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        env.daemon.wait_for(lambda: int(card_status()["apdus"]) > state["apdus"] + 40, 60,
                            "pkcs15-init at work on the card")
        env.card.remove()
        _, err = call.communicate(timeout=120)
    finally:
        if call.poll() is None:
            call.kill()
            call.wait()
    env.card.delay(0)
    assert "org.tokend.Tokend1.Error.TokenRemoved" in err, err
    assert "Insert it again" in err and "pkcs15-init could not" not in err, err


def count_apdus():
    state["apdus"] = int(card_status()["apdus"])


try:
    rc = Tap([wrong_so_pin_erases_nothing_and_says_the_tries_left,
              initialize_a_card_that_pkcs15_init_personalised,
              initialize_the_same_card_again, count_apdus,
              a_card_pulled_while_it_is_personalised_is_said_to_be_removed]).run()
finally:
    env.close()
sys.exit(1 if env.failed_shutdown else rc)
