#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Reader names of which one is part of another, and a name longer than a slot description.

OpenSC ignores a reader when an entry of ignored_readers is a substring of its name, so the
worker of reader "Virtual PCD 00 00 B 00 00" must not be told to ignore "Virtual PCD 00 00", or
it would hide its own reader. And OpenSC cuts a reader's name to fit the 64 bytes of a PKCS#11
slot description (61 bytes and "..."), so a token in a reader of a longer name (as USB readers
with a serial in theirs have) is known by that cut. Cards in "Virtual PCD 00 00", "Virtual PCD 00 01", "Virtual PCD 00
00 B 00 00", "… 00 01" and a reader of 70 bytes: all appear, each in its own reader, and each
worker hides every other reader it can."""

from card_env import MANAGER, ROOT, TOKEN, CardEnv, need_cards
from tap import run_and_close

need_cards()

READER = "org.tokend.Tokend1.Reader"
SHORT, LONG = "Virtual PCD 00 00", "Virtual PCD 00 00 B 00 00"
LONGEST_ENTRY = "SCM Microsystems Inc. SCR 3310 [CCID Interface] (21120706204331)"
CARDS = 5
env = None


def cut(reader):
    """A reader's name as OpenSC puts it in a slot description."""
    return reader if len(reader) <= 64 else reader[:61] + "..."


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
    env = CardEnv(cards=CARDS, readers=6,
                  reader_entry_names=["Virtual PCD", "Virtual PCD 00 00 B", LONGEST_ENTRY])
    d = env.daemon
    names = env.sim.pcscd.reader_names
    assert names[0] == SHORT and names[2] == LONG and len(names[4]) == 70, names
    for card in env.sim.cards[1:]:
        card.insert()
    d.wait_for(lambda: len(d.tokens()) == CARDS, 20, f"{CARDS} tokens")
    got = {d.get(p, TOKEN, "Reader"): d.get(p, TOKEN, "Serial") for p in d.tokens()}
    # The slot description, and so the token's Reader, is the name cut to 64 bytes.
    assert sorted(got) == sorted(names[:4] + [cut(names[4])]), got
    # Each token is its own card's: OpenSC reports a card serial's last 16 hex digits.
    for card in env.sim.cards:
        assert got[cut(card.reader)] == card.serial[-16:].lower(), (card.reader, got)


def the_long_named_reader_shows_its_token():
    d = env.daemon
    reader = next(p for p in d.get(ROOT, MANAGER, "Readers")
                  if d.get(p, READER, "Name") == env.sim.cards[4].reader)
    token = d.get(reader, READER, "Token")
    assert token != "/" and d.get(token, TOKEN, "Serial") == \
        env.sim.cards[4].serial[-16:].lower(), token


def a_card_pulled_from_the_long_named_reader_leaves():
    d = env.daemon
    env.sim.cards[4].remove()
    d.wait_for(lambda: len(d.tokens()) == CARDS - 1, 2, "its token to leave")


def each_worker_hides_every_reader_that_does_not_hide_its_own():
    d = env.daemon
    names = env.sim.pcscd.reader_names
    reader_of = {d.get(p, TOKEN, "Serial"): d.get(p, TOKEN, "Reader") for p in d.tokens()}
    d.wait_for(lambda: len(d.worker_pids()) == CARDS, 10, f"{CARDS} workers")
    for pid, serial in d.worker_pids():
        own = next(n for n in names if cut(n) == reader_of[serial])
        want = sorted(n for n in names if n != own and n not in own)
        assert ignored(conf_of(pid)) == want, (own, conf_of(pid))
    assert SHORT not in ignored(conf_of(next(p for p, s in d.worker_pids()
                                             if reader_of[s] == LONG)))


run_and_close([every_card_appears_in_its_own_reader,
               each_worker_hides_every_reader_that_does_not_hide_its_own,
               the_long_named_reader_shows_its_token,
               a_card_pulled_from_the_long_named_reader_leaves],
              lambda: env)
