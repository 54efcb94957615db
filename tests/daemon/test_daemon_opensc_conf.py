#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every process of tokend that loads OpenSC sees one reader: each token's worker and each
reader's scanner gets a private OpenSC configuration whose ignored_readers names every other
reader that PC/SC reports (whole names), and which makes C_SetPIN in an unlogged session unblock
with the PUK. Three simulated cards in four readers; the fourth reader stays empty and has no
scanner."""

import sys

from card_env import OPENSC, TOKEN, CardEnv, need_cards
from tap import Tap

need_cards()

env = None
readers = []


def conf_of(pid):
    with open(f"/proc/{pid}/environ", "rb") as f:
        environ = dict(e.split(b"=", 1) for e in f.read().split(b"\0") if b"=" in e)
    with open(environ[b"OPENSC_CONF"].decode()) as f:
        return f.read()


def hides_every_reader_but(conf, own):
    others = [r for r in readers if r != own]
    for other in others:
        assert f'"{other}"' in conf, conf
    assert conf.count('"') == 2 * len(others), conf
    assert f'"{own}"' not in conf, conf
    assert "user_pin_unblock_style = set_pin_in_unlogged_session;" in conf, conf


def reader_scanners():
    """{reader: PID} of tokend's scanners of one reader."""
    out = {}
    for pid, cmd in env.daemon.children():
        if b"--scan" in cmd and b"--reader" in cmd:
            out[cmd[cmd.index(b"--reader") + 1].decode()] = pid
    return out


def start():
    global env
    env = CardEnv(cards=3, readers=4)
    readers.extend(env.sim.pcscd.reader_names)
    for card in env.sim.cards[1:]:
        card.insert()
    d = env.daemon
    d.wait_for(lambda: len(d.tokens()) == 3, 20, "three tokens")
    d.wait_for(lambda: len(d.worker_pids()) == 3, 20, "three workers")


def tokens_carry_their_reader():
    start()
    d = env.daemon
    got = sorted(d.get(p, TOKEN, "Reader") for p in d.tokens())
    assert got == sorted(c.reader for c in env.sim.cards), got
    for p in d.tokens():
        assert d.get(p, TOKEN, "Module") == OPENSC


def each_worker_hides_every_other_reader_and_unblocks_with_the_puk():
    d = env.daemon
    reader_of = {d.get(p, TOKEN, "Serial"): d.get(p, TOKEN, "Reader") for p in d.tokens()}
    for pid, serial in d.worker_pids():
        hides_every_reader_but(conf_of(pid), reader_of[serial])


def each_reader_with_a_card_has_a_scanner_that_sees_that_reader_alone():
    scanners = reader_scanners()
    assert sorted(scanners) == sorted(c.reader for c in env.sim.cards), scanners
    for reader, pid in scanners.items():
        hides_every_reader_but(conf_of(pid), reader)
    # No scanner lists the module as a whole.
    whole = [cmd for _, cmd in env.daemon.children() if b"--scan" in cmd and b"--reader" not in cmd]
    assert whole == [], whole


def worker_is_told_to_unblock_with_the_puk():
    pid = [p for p, s in env.daemon.worker_pids()][0]
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        assert b"--unblock-with-puk" in f.read().split(b"\0")


def a_pulled_card_takes_its_readers_scanner_along():
    env.sim.cards[2].remove()
    d = env.daemon
    d.wait_for(lambda: len(d.tokens()) == 2, 5, "the pulled card's token to go")
    d.wait_for(lambda: env.sim.cards[2].reader not in reader_scanners(), 5,
               "its reader's scanner to stop")
    assert len(reader_scanners()) == 2, reader_scanners()


try:
    rc = Tap([tokens_carry_their_reader,
              each_worker_hides_every_other_reader_and_unblocks_with_the_puk,
              each_reader_with_a_card_has_a_scanner_that_sees_that_reader_alone,
              worker_is_told_to_unblock_with_the_puk,
              a_pulled_card_takes_its_readers_scanner_along]).run()
finally:
    if env:
        env.close()
sys.exit(1 if env and env.failed_shutdown else rc)
