#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The helpdesk's unblock on a simulated MyEID card through tokend: the rules that come before
the card (request reference, PIN policy, the PUK's final try), the PUK's counter as tokend's
ledger counts it against the card's own, and the derived PUK of a site key. Each step is
checked against the card's own counters (tokend-sim's control socket) and its objects."""

import json
import os
import sys

from card_env import CardEnv, gvariant_options, need_cards, options
from tap import Tap
from tokend_env import derive_so_pin

need_cards()

WRONG_PUK = b"99999999"
NEW_PIN = b"583920"
env = CardEnv(label="helpdesk card")
state = {}


def lock_user_pin(e):
    """Wrong PINs through tokend until the card locks the user PIN: the final try only with
    force, which a PIN change takes."""
    tries, max_tries, _, _ = e.counters(1)
    for _ in range(tries):
        err = e.call_error("ChangePin", "'user'",
                           gvariant_options(pin=b"000000", new_pin=b"406172", force=True))
        assert err and err[0] == "org.tokend.Tokend1.Error.PinIncorrect", err
    assert e.counters(1)[0] == 0
    e.daemon.wait_for(lambda: e.prop("UserPinState") == "locked", 5, "UserPinState locked")


def unblock_error(**kw):
    return env.call_error("UnblockPin", gvariant_options(**kw))


def user_pin_locked_after_three_wrong_pins():
    key_id = env.call("GenerateKeyPair", "sa{sv}", "ec-p256",
                      *options(pin=env.sim.pin.encode(), label="holder-key"))[0]
    state["key_id"] = bytes(key_id).hex()
    lock_user_pin(env)
    assert env.prop("UserPinRetries") == 0
    assert env.prop("UserPinRetriesSource") == "card"
    state["objects"] = env.objects()
    state["p11_objects"] = env.p11_objects()
    assert ("public-key", state["key_id"], "holder-key") in state["p11_objects"], state


def puk_and_so_pin_are_shown_apart_with_the_cards_counts():
    so_tries, so_max, _, _ = env.counters(3)
    assert env.prop("HasPuk") is True
    assert (env.prop("SoPinRetries"), env.prop("SoPinRetriesSource")) == (so_tries, "card")
    assert so_tries == so_max
    # The card's VERIFY cannot reach the PUK's counter: tokend's ledger counts it.
    assert env.prop("PukRetriesSource") in ("ledger", "unknown"), env.prop("PukRetriesSource")


def change_so_pin_changes_the_so_pin_and_leaves_the_puk():
    before_puk = env.counters(1)[2:]
    new_so = "73915046"
    env.call("ChangePin", "sa{sv}", "so", *options(pin=env.sim.so_pin.encode(),
                                                   new_pin=new_so.encode()))
    env.sim.so_pin = new_so
    assert env.counters(1)[2:] == before_puk, (before_puk, env.counters(1))
    assert env.counters(3)[0] == env.counters(3)[1], env.counters(3)
    # OpenSC's own tool, as a witness, logs in as SO with the new SO PIN.
    status, out = env.pkcs11_tool("--login", "--login-type", "so", "--list-objects",
                                  so_pin=new_so)
    assert status == 0, out


def unblock_refused_without_request_reference():
    before = env.counters(1)
    err = unblock_error(so_pin=env.sim.puk.encode(), new_pin=NEW_PIN)
    assert err and err[0] == "org.tokend.Tokend1.Error.InvalidArgument", err
    assert "request" in err[1], err
    assert env.counters(1) == before, (before, env.counters(1))
    assert env.prop("UserPinState") == "locked"


def trivial_new_pins_refused_before_the_card():
    before = env.counters(1)
    for trivial in (b"123456", b"111111", b"987654", b"12"):
        err = unblock_error(so_pin=env.sim.puk.encode(), new_pin=trivial, request="ULA-31")
        assert err and err[0] == "org.tokend.Tokend1.Error.PinPolicy", (trivial, err)
    assert env.counters(1) == before, (before, env.counters(1))


def wrong_puk_lowers_the_card_puk_counter_by_one_and_changes_nothing_else():
    tries, max_tries, puk, puk_max = env.counters(1)
    assert (tries, puk) == (0, puk_max), env.counters(1)
    err = unblock_error(so_pin=WRONG_PUK, new_pin=NEW_PIN, request="ULA-32")
    assert err and err[0] == "org.tokend.Tokend1.Error.PinIncorrect", err
    assert env.counters(1) == (0, max_tries, puk_max - 1, puk_max), env.counters(1)
    assert f"{puk_max - 1} tries left" in err[1], err
    assert env.objects() == state["objects"]
    assert env.p11_objects() == state["p11_objects"]
    assert env.prop("UserPinState") == "locked"
    assert not env.login_works(env.sim.pin)  # refused by the locked PIN; spends nothing
    assert env.counters(1)[2] == puk_max - 1


def ledger_counts_each_wrong_puk_as_the_card_does():
    _, _, puk, puk_max = env.counters(1)
    while puk > 1:
        assert env.prop("PukRetries") == puk, (env.prop("PukRetries"), puk)
        assert env.prop("PukRetriesSource") == "ledger"
        assert env.prop("UserPinRetriesSource") == "card"
        err = unblock_error(so_pin=WRONG_PUK, new_pin=NEW_PIN, request="ULA-33")
        assert err and err[0] == "org.tokend.Tokend1.Error.PinIncorrect", err
        _, _, now, _ = env.counters(1)
        assert now == puk - 1, (puk, now)
        puk = now
    assert env.prop("PukRetries") == 1
    assert env.prop("PukState") == "final-try"
    with open(f"{env.daemon.dir}/retry-ledger.json") as f:
        ledger = f.read()
    assert env.prop("Serial") in ledger, ledger


def unblock_on_the_puk_final_try_refused_without_force():
    before = env.counters(1)
    err = unblock_error(so_pin=env.sim.puk.encode(), new_pin=NEW_PIN, request="ULA-34")
    assert err and err[0] == "org.tokend.Tokend1.Error.SoPinFinalTry", err
    assert "force" in err[1], err
    assert env.counters(1) == before, (before, env.counters(1))
    assert env.prop("UserPinState") == "locked"


def unblock_on_the_final_try_works_with_force():
    env.call("UnblockPin", "a{sv}", *options(so_pin=env.sim.puk.encode(), new_pin=NEW_PIN,
                                             request="ULA-35", force=True))
    tries, max_tries, puk, puk_max = env.counters(1)
    assert (tries, puk) == (max_tries, puk_max), env.counters(1)
    assert env.prop("UserPinState") == "ok"
    assert (env.prop("PukRetries"), env.prop("PukRetriesSource")) == (puk_max, "ledger")
    assert env.login_works(NEW_PIN.decode())
    assert env.objects(pin=NEW_PIN.decode()) != []


def audit_trail_records_each_unblock_with_its_reference():
    with open(f"{env.daemon.dir}/audit.jsonl") as f:
        text = f.read()
    lines = [json.loads(line) for line in text.splitlines()]
    unblocks = [(e.get("request"), e["result"], e.get("error")) for e in lines
                if e["operation"] == "unblock-pin"]
    # Refused by tokend's own checks before polkit: answered, never written.
    assert not [u for u in unblocks if u[2] in ("InvalidArgument", "PinPolicy")], unblocks
    assert ("ULA-32", "failed", "PinIncorrect") in unblocks, unblocks
    assert ("ULA-34", "refused", "SoPinFinalTry") in unblocks, unblocks
    assert ("ULA-35", "ok", None) in unblocks, unblocks
    for secret in (env.sim.pin, env.sim.puk, WRONG_PUK.decode(), NEW_PIN.decode()):
        assert secret not in text, "a PIN or PUK reached the audit trail"


# A site key: tokend derives the PUK, 8 digits (MyEID's PIN length limit) from the serial.
site = {}


def personalise_with_derived_puk(sim):
    """An issuing station's pkcs15-init, with the PUK the site key gives this card. The token
    serial that OpenSC's PKCS#11 module reports is the card serial's last 16 hex digits."""
    with open(site["key_file"], "rb") as f:
        key = f.read()
    site["serial"] = sim.cards[0].serial[-16:].lower()
    sim.puk = derive_so_pin(key, site["serial"])
    sim.so_pin = sim.puk
    sim.env["TOKEND_SIM_PUK"] = sim.env["TOKEND_SIM_SO_PIN"] = sim.puk
    sim.personalise(0)


def start_site_key_card():
    import tempfile
    site["dir"] = tempfile.mkdtemp(prefix="tokend-site-key.")
    site["key_file"] = os.path.join(site["dir"], "site.key")
    with open(site["key_file"], "wb") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(os.urandom(32))
    site["env"] = CardEnv(personalise=False, label="site card",
                          extra_config=f"[Unblock]\nSiteKeyFile={site['key_file']}\n",
                          before_tokend=personalise_with_derived_puk)


def unblock_with_the_derived_puk_needs_no_puk_from_staff():
    start_site_key_card()
    e = site["env"]
    assert e.prop("Serial") == site["serial"], (e.prop("Serial"), site["serial"])
    lock_user_pin(e)
    e.call("UnblockPin", "a{sv}", *options(new_pin=NEW_PIN, request="ULA-40"))
    tries, max_tries, puk, puk_max = e.counters(1)
    assert (tries, puk) == (max_tries, puk_max), e.counters(1)
    assert e.login_works(NEW_PIN.decode())


def unblock_with_derived_puk_on_a_card_initialised_by_tokend():
    """Initialize with no SO PIN from staff: tokend derives it, erases the card with it and
    gives the new user PIN the same secret as its PUK; the helpdesk's unblock then needs none
    either."""
    e = site["env"]
    e.call("GenerateKeyPair", "sa{sv}", "ec-p256", *options(pin=NEW_PIN, label="old-key"))
    e.call("Initialize", "sa{sv}", "site card 2", *options(new_pin=b"735190"))
    e.daemon.wait_for(lambda: e.prop("Label") == "site card 2", 5, "the new label")
    assert e.p11_objects(pin="735190") == [], e.p11_objects(pin="735190")
    assert e.prop("Serial") == site["serial"]
    lock_user_pin(e)
    e.call("UnblockPin", "a{sv}", *options(new_pin=b"481029", request="ULA-41"))
    tries, max_tries, puk, puk_max = e.counters(1)
    assert (tries, puk) == (max_tries, puk_max), e.counters(1)
    assert e.login_works("481029")


try:
    rc = Tap([puk_and_so_pin_are_shown_apart_with_the_cards_counts,
              change_so_pin_changes_the_so_pin_and_leaves_the_puk,
              user_pin_locked_after_three_wrong_pins, unblock_refused_without_request_reference,
              trivial_new_pins_refused_before_the_card,
              wrong_puk_lowers_the_card_puk_counter_by_one_and_changes_nothing_else,
              ledger_counts_each_wrong_puk_as_the_card_does,
              unblock_on_the_puk_final_try_refused_without_force,
              unblock_on_the_final_try_works_with_force,
              audit_trail_records_each_unblock_with_its_reference,
              unblock_with_the_derived_puk_needs_no_puk_from_staff,
              unblock_with_derived_puk_on_a_card_initialised_by_tokend]).run()
finally:
    failed_shutdown = False
    for e in (site.get("env"), env):
        if e:
            e.close()
            failed_shutdown = failed_shutdown or e.failed_shutdown
    if site.get("dir"):
        import shutil
        shutil.rmtree(site["dir"], ignore_errors=True)
sys.exit(1 if failed_shutdown else rc)
