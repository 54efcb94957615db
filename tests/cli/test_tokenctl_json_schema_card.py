#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""tokenctl's --json output for a token in a reader, against the schemas in docs/tokenctl-json:
a simulated MyEID card behind a private pcscd, so that a token's reader, a reader's ATR and
token, and the reader in monitor's events are there (SoftHSM2 tokens have none of them)."""

import os
import signal
import subprocess
import sys
import time

from card_env import CardEnv, need_cards
from tap import Tap
from tokend_env import JsonLines
from tokenctl_json import TokenctlJson

TOKENCTL = os.environ["TOKENCTL"]

need_cards()

env = CardEnv(label="json card")
js = TokenctlJson(TOKENCTL, env.daemon)


def list_names_the_reader_its_atr_and_its_token():
    doc = js.run("list", "list")
    token = next(t for t in doc["tokens"] if t["path"] == env.path)
    assert token["reader"] == env.card.reader, token
    reader = next(r for r in doc["readers"] if r["name"] == env.card.reader)
    assert reader["card-present"] and reader["token"] == env.path, reader
    assert reader["atr"] and reader["atr"] == reader["atr"].lower(), reader
    assert all(r["atr"] is None and r["token"] is None for r in doc["readers"]
               if r["name"] != env.card.reader), doc


def status_and_objects_of_the_card():
    doc = js.run("status", "status", env.path)
    assert doc["token"]["reader"] == env.card.reader, doc
    assert doc["token"]["user-pin"]["retries-source"] == "card", doc
    # The PUK and the SO PIN apart, each with the card's own count where it gives one.
    so_tries = env.counters(3)[0]
    assert doc["token"]["so-pin"] == {"state": "ok", "retries": so_tries,
                                      "retries-source": "card"}, doc
    assert doc["token"]["puk"]["retries-source"] in ("ledger", "unknown"), doc
    js.run("objects", "objects", env.path)
    err = js.run("objects", "objects", env.path, "--login", "--pin-file", "-",
                 stdin="000000\n", expect=5)["error"]
    assert err["name"] == "org.tokend.Tokend1.Error.PinIncorrect", err


def status_text_shows_puk_and_so_pin_apart_with_their_sources():
    p = subprocess.run([TOKENCTL, "status", env.path], env=env.daemon.env, capture_output=True, text=True,
                       timeout=30, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    lines = {l.split(":", 1)[0].strip(): l.split(":", 1)[1].strip()
             for l in p.stdout.splitlines() if ":" in l}
    assert "SO PIN (PUK)" not in p.stdout, p.stdout
    assert lines["User PIN"].endswith("(card)"), p.stdout
    assert lines["SO PIN"] == f"ok, {env.counters(3)[0]} tries left (card)", p.stdout
    assert lines["PUK"].endswith(("(ledger)", "(unknown)")), p.stdout


def change_pin_puk_says_it_cannot_before_asking():
    before = env.counters(3)
    err = js.run("change-pin", "change-pin", env.path, "--puk", expect=1)["error"]
    assert "cannot be changed" in err["message"] and "tokenctl init" in err["message"], err
    # Said before any PIN is asked: on a terminal too, nothing is prompted for.
    p = subprocess.run([TOKENCTL, "change-pin", env.path, "--puk"], env=env.daemon.env,
                       capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert p.returncode == 1 and "PIN" not in p.stdout, p
    js.run("change-pin", "change-pin", env.path, "--puk", "--so", expect=2)
    assert env.counters(3) == before


def monitor_names_the_reader_of_a_card_pulled_and_inserted():
    serial = js.run("status", "status", env.path)["token"]["serial"]
    mon = subprocess.Popen([TOKENCTL, "--json", "monitor"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env.daemon.env, start_new_session=True)
    lines = JsonLines(mon.stdout)
    try:
        time.sleep(0.5)  # subscribed before the card moves
        env.card.remove()
        lines.read(lambda: lines.events("TokenRemoved"), timeout=20)
        env.card.insert()
        lines.read(lambda: lines.events("TokenAdded"), timeout=20)
        mon.send_signal(signal.SIGTERM)
        mon.wait(10)
    finally:
        if mon.poll() is None:
            mon.kill()
            mon.wait()
    for doc in lines.docs:
        js.validate("monitor", doc)
    for kind in ("TokenRemoved", "TokenAdded"):
        events = lines.events(kind)
        assert events, (kind, lines.docs)
        assert events[0]["serial"] == serial and events[0]["reader"] == env.card.reader, events
    # the card's reader says it is empty, then that a card is in it
    present = [e["changed"]["CardPresent"] for e in lines.events("PropertiesChanged")
               if e["reader"] == env.card.reader and "CardPresent" in e["changed"]]
    assert present == [False, True], lines.docs
    env.path = env.wait_token()


try:
    rc = Tap([list_names_the_reader_its_atr_and_its_token, status_and_objects_of_the_card,
              status_text_shows_puk_and_so_pin_apart_with_their_sources,
              change_pin_puk_says_it_cannot_before_asking,
              monitor_names_the_reader_of_a_card_pulled_and_inserted]).run()
finally:
    env.close()
sys.exit(1 if env.failed_shutdown else rc)
