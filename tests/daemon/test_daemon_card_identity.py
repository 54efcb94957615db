#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""tokend on a MyEID card of another implementation's ATR (OsEID's): the card is known by what
it answers, not by a list of ATRs, so tokend reads the user PIN's and the SO PIN's counters
from the card itself, counts the PUK from the start value MyEID's personalisation gives it
(10, not a guessed 3), and after every wrong PIN or PUK shows the count the card has left.
Each step is checked against the card's own counters (tokend-sim's control socket)."""

import sys

from card_env import CardEnv, gvariant_options, need_cards, options
from tap import Tap

need_cards()

OSEID_ATR = "3BF518000280014F734549441A"
WRONG_PUK = b"99999999"
NEW_PIN = b"583920"
env = CardEnv(label="oseid card", atr=OSEID_ATR)


def opensc_binds_the_card_and_tokend_reads_its_counters():
    # CardEnv waited for UserPinRetriesSource "card": the probe took the card as a MyEID.
    tries, _, puk, puk_max = env.counters(1)
    assert env.prop("UserPinRetries") == tries, (env.prop("UserPinRetries"), tries)
    assert env.prop("UserPinRetriesSource") == "card"
    so_tries = env.counters(3)[0]
    assert env.prop("SoPinRetries") == so_tries, (env.prop("SoPinRetries"), so_tries)
    assert env.prop("SoPinRetriesSource") == "card"
    assert env.prop("HasPuk") is True
    assert (puk, puk_max) == (10, 10), env.counters(1)
    # No unblock of this card has been counted yet: nothing says how many PUK tries are left.
    assert env.prop("PukRetries") == -1
    assert env.prop("PukRetriesSource") == "unknown"


def each_wrong_user_pin_shows_the_count_the_card_has_left():
    tries, max_tries, _, _ = env.counters(1)
    assert tries == max_tries, env.counters(1)
    for _ in range(tries):
        err = env.call_error("ChangePin", "'user'",
                             gvariant_options(pin=b"000000", new_pin=b"406172", force=True))
        assert err and err[0] == "org.tokend.Tokend1.Error.PinIncorrect", err
        left = env.counters(1)[0]
        assert env.prop("UserPinRetries") == left, (env.prop("UserPinRetries"), left)
        assert env.prop("UserPinRetriesSource") == "card"
        if left:
            assert f"{left} {'try' if left == 1 else 'tries'} left" in err[1], err
        else:
            assert "now locked" in err[1], err
    env.daemon.wait_for(lambda: env.prop("UserPinState") == "locked", 5, "UserPinState locked")


def a_wrong_puk_counts_down_from_the_cards_start_value():
    _, _, puk, puk_max = env.counters(1)
    assert puk == puk_max == 10, env.counters(1)
    err = env.call_error("UnblockPin", gvariant_options(so_pin=WRONG_PUK, new_pin=NEW_PIN,
                                                        request="ULA-41"))
    assert err and err[0] == "org.tokend.Tokend1.Error.PinIncorrect", err
    left = env.counters(1)[2]
    assert left == puk_max - 1, env.counters(1)
    assert f"{left} tries left" in err[1], err
    assert env.prop("PukRetries") == left, (env.prop("PukRetries"), left)
    assert env.prop("PukRetriesSource") == "ledger"


def the_right_puk_unblocks_and_the_counts_are_the_cards_again():
    env.call("UnblockPin", "a{sv}", *options(so_pin=env.sim.puk.encode(), new_pin=NEW_PIN,
                                             request="ULA-42"))
    tries, max_tries, puk, puk_max = env.counters(1)
    assert (tries, puk) == (max_tries, puk_max), env.counters(1)
    env.daemon.wait_for(lambda: env.prop("UserPinState") == "ok", 5, "UserPinState ok")
    assert env.prop("UserPinRetries") == max_tries
    assert env.prop("UserPinRetriesSource") == "card"
    assert env.prop("PukRetries") == puk_max, env.prop("PukRetries")
    assert env.prop("PukRetriesSource") == "ledger"


try:
    rc = Tap([opensc_binds_the_card_and_tokend_reads_its_counters,
              each_wrong_user_pin_shows_the_count_the_card_has_left,
              a_wrong_puk_counts_down_from_the_cards_start_value,
              the_right_puk_unblocks_and_the_counts_are_the_cards_again]).run()
finally:
    env.close()
sys.exit(1 if env.failed_shutdown else rc)
