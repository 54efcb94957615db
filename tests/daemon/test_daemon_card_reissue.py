#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A returned card issued again: Initialize through tokend on a simulated MyEID card that
OpenSC's pkcs15-init personalised with its myeid profile, and then again on the same card, which
tokend personalised. Erasing a personalised card takes its SO PIN on the card itself; a wrong one
erases nothing. Each step is checked against the card's own counters and state (tokend-sim's
control socket) and with pkcs11-tool."""

import re
import sys

from card_env import CardEnv, gvariant_options, need_cards, options
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


try:
    rc = Tap([wrong_so_pin_erases_nothing_and_says_the_tries_left,
              initialize_a_card_that_pkcs15_init_personalised,
              initialize_the_same_card_again]).run()
finally:
    env.close()
sys.exit(1 if env.failed_shutdown else rc)
