#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Reader names of which one is part of another: OpenSC ignores a reader when an entry of
ignored_readers is a substring of its name, so the worker of reader "Virtual PCD 00 00 B 00 00"
must not be told to ignore "Virtual PCD 00 00", or it would hide its own reader. Three cards,
in "Virtual PCD 00 00", "Virtual PCD 00 01" and "Virtual PCD 00 00 B 00 00": all three tokens
appear, each in its own reader, and each worker hides every other reader it can."""

import os

from card_env import TOKEN, CardEnv, need_cards
from tap import run_and_close

need_cards()

SHORT, LONG = "Virtual PCD 00 00", "Virtual PCD 00 00 B 00 00"
env = None


def conf_of(pid):
    with open(f"/proc/{pid}/environ", "rb") as f:
        environ = dict(e.split(b"=", 1) for e in f.read().split(b"\0") if b"=" in e)
    with open(environ[b"OPENSC_CONF"].decode()) as f:
        return f.read()


def ignored(conf):
    line = next((x for x in conf.splitlines() if "ignored_readers" in x), "")
    return sorted(part.strip().strip('";') for part in line.split("=", 1)[1].split(",")) \
        if line else []


def every_card_appears_in_its_own_reader():
    global env
    env = CardEnv(cards=3, readers=4, reader_entry_names=["Virtual PCD", "Virtual PCD 00 00 B"])
    d = env.daemon
    names = env.sim.pcscd.reader_names
    assert names[0] == SHORT and names[2] == LONG, names
    for card in env.sim.cards[1:]:
        card.insert()
    d.wait_for(lambda: len(d.tokens()) == 3, 20, "three tokens")
    got = {d.get(p, TOKEN, "Reader"): d.get(p, TOKEN, "Serial") for p in d.tokens()}
    assert sorted(got) == sorted(names[:3]), got
    # Each token is its own card's: OpenSC reports a card serial's last 16 hex digits.
    for card in env.sim.cards:
        assert got[card.reader] == card.serial[-16:].lower(), (card.reader, got)


def each_worker_hides_every_reader_that_does_not_hide_its_own():
    d = env.daemon
    names = env.sim.pcscd.reader_names
    reader_of = {d.get(p, TOKEN, "Serial"): d.get(p, TOKEN, "Reader") for p in d.tokens()}
    d.wait_for(lambda: len(d.worker_pids()) == 3, 10, "three workers")
    for pid, serial in d.worker_pids():
        own = reader_of[serial]
        want = sorted(n for n in names if n != own and n not in own)
        assert ignored(conf_of(pid)) == want, (own, conf_of(pid))
    assert SHORT not in ignored(conf_of(next(p for p, s in d.worker_pids()
                                             if reader_of[s] == LONG)))


run_and_close([every_card_appears_in_its_own_reader,
               each_worker_hides_every_reader_that_does_not_hide_its_own],
              lambda: env)
