#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Readers come from PC/SC: with OpenSC configured and a private pcscd with two empty vpcd
readers, tokend offers a Reader object per reader, and its introspection matches the XML."""

import sys

import introspection as iu
from tap import Tap
from tokend_env import BUS_NAME, ROOT, Env, need

OPENSC = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"
need("dbus-daemon", "busctl", "pcscd", "unshare", OPENSC,
     "/usr/lib/pcsc/drivers/serial/libifdvpcd.so")

env = Env(labels=(), modules=[OPENSC], pcscd=True)
READER = "org.tokend.Tokend1.Reader"


def readers_appear_with_their_state():
    env.wait_for(lambda: len(env.get(ROOT, "org.tokend.Tokend1.Manager", "Readers")) == 2, 10,
                 "two readers")
    readers = env.get(ROOT, "org.tokend.Tokend1.Manager", "Readers")
    names = sorted(env.get(r, READER, "Name") for r in readers)
    assert names == ["Virtual PCD 00 00", "Virtual PCD 00 01"], names
    for r in readers:
        assert env.get(r, READER, "CardPresent") is False
        assert env.get(r, READER, "Atr") == []
        assert env.get(r, READER, "Token") == "/"
    managed = env.busctl("call", BUS_NAME, ROOT, "org.freedesktop.DBus.ObjectManager",
                         "GetManagedObjects")["data"][0]
    assert all(READER in managed[r] for r in readers), managed


def reader_introspection_matches_the_documented_xml():
    reader = env.get(ROOT, "org.tokend.Tokend1.Manager", "Readers")[0]
    got = iu.interfaces(env.call(reader, "Introspect", "",
                                 interface="org.freedesktop.DBus.Introspectable")[0])
    assert got == {READER: iu.documented()[READER]}, got


try:
    rc = Tap([readers_appear_with_their_state,
              reader_introspection_matches_the_documented_xml]).run()
finally:
    env.close()
sys.exit(1 if env.failed_shutdown else rc)
