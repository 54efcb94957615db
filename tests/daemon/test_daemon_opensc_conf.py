#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every process of tokend that loads OpenSC sees one reader: each token's worker and each
reader's scanner gets a private OpenSC configuration whose ignored_readers names every other
reader that PC/SC reports (whole names), and which makes C_SetPIN in an unlogged session unblock
with the PUK. Once a reader's scanner has found the token, it stops and the token's worker is
the one process on that card; a card with no token keeps its scanner, which finds the token once
the card is personalised. Four simulated cards in five readers, the fourth card blank."""

import os
import sys

from card_env import OPENSC, TOKEN, CardEnv, need_cards
from tap import run_and_close

need_cards()

env = None
readers = []


def conf_of_path(pid):
    with open(f"/proc/{pid}/environ", "rb") as f:
        environ = dict(e.split(b"=", 1) for e in f.read().split(b"\0") if b"=" in e)
    return environ[b"OPENSC_CONF"].decode()


def conf_of(pid):
    with open(conf_of_path(pid)) as f:
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


def blank_the_last_card(sim):
    """The last card as it comes from the factory: no PKCS#15 structure, so no token."""
    card = sim.cards[-1]
    card.stop()
    os.unlink(card.state)
    card.start()


def start():
    global env
    env = CardEnv(cards=4, readers=5, before_tokend=blank_the_last_card)
    readers.extend(env.sim.pcscd.reader_names)
    for card in env.sim.cards[1:]:
        card.insert()
    d = env.daemon
    d.wait_for(lambda: len(d.tokens()) == 3, 20, "three tokens")
    d.wait_for(lambda: len(d.worker_pids()) == 3, 20, "three workers")
    blank = env.sim.cards[-1].reader
    d.wait_for(lambda: list(reader_scanners()) == [blank], 10,
               "the scanners of readers with a token to stop")


def tokens_carry_their_reader():
    start()
    d = env.daemon
    got = sorted(d.get(p, TOKEN, "Reader") for p in d.tokens())
    assert got == sorted(c.reader for c in env.sim.cards[:-1]), got
    for p in d.tokens():
        assert d.get(p, TOKEN, "Module") == OPENSC


def each_worker_hides_every_other_reader_and_unblocks_with_the_puk():
    d = env.daemon
    reader_of = {d.get(p, TOKEN, "Serial"): d.get(p, TOKEN, "Reader") for p in d.tokens()}
    for pid, serial in d.worker_pids():
        hides_every_reader_but(conf_of(pid), reader_of[serial])


def each_readers_scanner_saw_that_reader_alone():
    """The scanners that stopped left their configurations in tokend's runtime directory, beside
    the workers'."""
    pid = env.daemon.worker_pids()[0][0]
    runtime = os.path.dirname(conf_of_path(pid))
    confs = {n for n in os.listdir(runtime) if n.startswith("scan-")}
    assert len(confs) == 4, confs
    scanners = reader_scanners()
    blank = env.sim.cards[-1].reader
    assert list(scanners) == [blank], scanners
    hides_every_reader_but(conf_of(scanners[blank]), blank)
    # No scanner lists the module as a whole.
    whole = [cmd for _, cmd in env.daemon.children() if b"--scan" in cmd and b"--reader" not in cmd]
    assert whole == [], whole


def worker_is_told_to_unblock_with_the_puk():
    pid = [p for p, s in env.daemon.worker_pids()][0]
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        assert b"--unblock-with-puk" in f.read().split(b"\0")


def a_card_personalised_meanwhile_is_found_by_its_readers_scanner():
    """No PC/SC event tells of it: the scanner's slow poll (ten scan intervals, 2 s here) does."""
    d = env.daemon
    env.sim.personalise(len(env.sim.cards) - 1, label="late")
    d.wait_for(lambda: len(d.tokens()) == 4, 10, "the personalised card's token")
    d.wait_for(lambda: reader_scanners() == {}, 10, "its reader's scanner to stop")


def a_pulled_card_leaves_no_process_behind():
    d = env.daemon
    env.sim.cards[2].remove()
    d.wait_for(lambda: len(d.tokens()) == 3, 5, "the pulled card's token to go")
    d.wait_for(lambda: len(d.worker_pids()) == 3, 5, "its worker to stop")
    assert reader_scanners() == {}, reader_scanners()


run_and_close([tokens_carry_their_reader,
               each_worker_hides_every_other_reader_and_unblocks_with_the_puk,
               each_readers_scanner_saw_that_reader_alone,
               worker_is_told_to_unblock_with_the_puk,
               a_card_personalised_meanwhile_is_found_by_its_readers_scanner,
               a_pulled_card_leaves_no_process_behind],
              lambda: env)
