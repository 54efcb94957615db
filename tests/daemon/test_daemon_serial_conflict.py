#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Two present tokens with one serial: two simulated MyEID cards made with the same serial, in
two readers. Both are listed and marked SerialConflict; the SO PIN/PUK that the site key derives
from the serial is refused on both (the card's PUK counter untouched), while calls that bring
their own secrets reach the right card; once one card leaves, the other is itself again."""

import os
import secrets
import shutil
import subprocess
import sys
import tempfile

from card_env import TOKEN, CardEnv, gvariant_options, need_cards, options
from tap import Tap
from tokend_env import derive_so_pin

need_cards()

TOKENCTL = f"{os.environ['TOKEND_BUILD_DIR']}/cli/tokenctl"
CONFLICT_ERROR = "org.tokend.Tokend1.Error.SerialConflict"
# The card serial; OpenSC's PKCS#11 module reports its last 16 hex digits as the token's.
CARD_SERIAL = secrets.token_hex(10)
SERIAL = CARD_SERIAL[-16:].lower()

site_dir = tempfile.mkdtemp(prefix="tokend-site-key.")
key_file = os.path.join(site_dir, "site.key")
with open(key_file, "wb") as f:
    os.fchmod(f.fileno(), 0o600)
    key = os.urandom(32)
    f.write(key)
# Both cards were personalised with the PUK the site key gives that serial.
DERIVED = derive_so_pin(key, SERIAL)

env = None
paths = {}


def start():
    global env
    env = CardEnv(cards=2, label="twin", puk=DERIVED, so_pin=DERIVED,
                  serials=[CARD_SERIAL, CARD_SERIAL],
                  extra_config=f"[Unblock]\nSiteKeyFile={key_file}\n")


def card_counters(i):
    """(user PIN tries, PUK tries) of card i, as the card itself counts them."""
    saved = env.card
    env.card = env.sim.cards[i]
    try:
        tries, _, puk, _ = env.counters(1)
    finally:
        env.card = saved
    return tries, puk


def by_reader(reader):
    for p in env.daemon.tokens():
        if env.daemon.get(p, TOKEN, "Reader") == reader:
            return p
    return None


def tokenctl(*args):
    p = subprocess.run([TOKENCTL, *args], capture_output=True, text=True, timeout=60,
                       env=dict(env.daemon.env, NO_COLOR="1"), stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout + p.stderr


def one_card_is_no_conflict():
    start()
    d = env.daemon
    paths["a"] = env.path
    assert d.get(env.path, TOKEN, "Serial") == SERIAL
    assert d.get(env.path, TOKEN, "SerialConflict") is False


def a_second_card_with_the_same_serial_is_listed_and_both_are_marked():
    d = env.daemon
    env.sim.cards[1].insert()
    d.wait_for(lambda: by_reader(env.sim.cards[1].reader), 20, "the second card's token")
    paths["b"] = by_reader(env.sim.cards[1].reader)
    assert paths["a"] != paths["b"], paths
    assert sorted(d.tokens()) == sorted(paths.values()), d.tokens()
    for p in paths.values():
        assert d.get(p, TOKEN, "Serial") == SERIAL
        d.wait_for(lambda: d.get(p, TOKEN, "SerialConflict") is True, 5, f"{p} marked")
    assert d.get(paths["a"], TOKEN, "Reader") == env.sim.cards[0].reader
    # The second card's worker has its own card: its counters come from that card.
    d.wait_for(lambda: d.get(paths["b"], TOKEN, "UserPinRetriesSource") == "card", 20,
               "the second card's counters")


def tokenctl_shows_both_and_will_not_guess_which_the_serial_means():
    rc, out = tokenctl("list")
    assert rc == 0, out
    assert out.count(f"{SERIAL} (twice)") == 2, out
    rc, out = tokenctl("status", SERIAL)
    assert rc != 0, out
    assert "Several present tokens have the serial number" in out, out
    for card in env.sim.cards:
        assert card.reader in out, out
    rc, out = tokenctl("status", env.sim.cards[1].reader)
    assert rc == 0, out
    assert "another present token has the same serial number" in out, out


def derived_puk_refused_on_both_and_no_puk_spent():
    before = [card_counters(i) for i in range(2)]
    for name, path in paths.items():
        err = env.daemon.call_error(path, "UnblockPin",
                                    gvariant_options(new_pin=b"406172", request=f"ULA-{name}"))
        assert err and err[0] == CONFLICT_ERROR, err
        assert SERIAL in err[1], err
    assert [card_counters(i) for i in range(2)] == before, before
    refused = [(r.get("request"), r["result"], r.get("error"))
               for r in env.daemon.audit_records() if r["operation"] == "unblock-pin"]
    for name in paths:
        assert (f"ULA-{name}", "refused", "SerialConflict") in refused, refused


def calls_with_their_own_secrets_reach_the_right_card():
    """Wrong PINs through the second token lower the second card's counter, and an unblock
    with the PUK given by staff resets it: the first card sees none of it."""
    first = card_counters(0)
    tries, _ = card_counters(1)
    for _ in range(tries):
        err = env.daemon.call_error(paths["b"], "ChangePin", "'user'",
                                    gvariant_options(pin=b"000000", new_pin=b"406172",
                                                     force=True))
        assert err and err[0] == "org.tokend.Tokend1.Error.PinIncorrect", err
    assert card_counters(1)[0] == 0, card_counters(1)
    assert card_counters(0) == first, card_counters(0)
    env.daemon.call(paths["b"], "UnblockPin", "a{sv}",
                    *options(so_pin=DERIVED.encode(), new_pin=b"406172", request="ULA-given"))
    assert card_counters(1)[0] == tries, card_counters(1)
    assert card_counters(0) == first, card_counters(0)


def when_one_leaves_the_other_is_itself_again():
    d = env.daemon
    env.sim.cards[1].remove()
    d.wait_for(lambda: d.tokens() == [paths["a"]], 20, "the second card's token to go")
    d.wait_for(lambda: d.get(paths["a"], TOKEN, "SerialConflict") is False, 5,
               "the conflict mark to go")
    _, puk = card_counters(0)
    d.call(paths["a"], "UnblockPin", "a{sv}", *options(new_pin=b"519204", request="ULA-after"))
    assert card_counters(0)[1] == puk, card_counters(0)
    assert env.login_works("519204")


try:
    rc = Tap([one_card_is_no_conflict,
              a_second_card_with_the_same_serial_is_listed_and_both_are_marked,
              tokenctl_shows_both_and_will_not_guess_which_the_serial_means,
              derived_puk_refused_on_both_and_no_puk_spent,
              calls_with_their_own_secrets_reach_the_right_card,
              when_one_leaves_the_other_is_itself_again]).run()
finally:
    failed_shutdown = False
    if env:
        env.close()
        failed_shutdown = env.failed_shutdown
    shutil.rmtree(site_dir, ignore_errors=True)
sys.exit(1 if failed_shutdown else rc)
