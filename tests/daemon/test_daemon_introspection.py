#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The running daemon's org.tokend.* interfaces match docs/org.tokend.Tokend1.xml: the Manager,
a Token (SoftHSM2) and a Reader (one of a private pcscd's two vpcd readers, seen through
OpenSC), so that every documented interface is compared on every run."""

import sys

import simenv
from introspection import documented as documented_interfaces
from introspection import interfaces
from tap import Tap, skip
from tokend_env import ROOT, SOFTHSM_MODULE, Env, need

need("dbus-daemon", "busctl", "softhsm2-util", SOFTHSM_MODULE)
try:
    simenv.check_available(opensc=False)
except simenv.Unavailable as e:
    skip(str(e))
need(simenv.OPENSC_PKCS11)


documented = documented_interfaces()

# SoftHSM2 gives the token; OpenSC, on the private pcscd's empty readers, the readers.
env = Env(labels=("intro",), modules=[SOFTHSM_MODULE, simenv.OPENSC_PKCS11], pcscd=True)


def live(path):
    return interfaces(env.call(path, "Introspect", "", interface="org.freedesktop.DBus.Introspectable")[0])


def documented_interfaces_are_manager_token_reader():
    assert sorted(documented) == ["org.tokend.Tokend1.Manager", "org.tokend.Tokend1.Reader",
                                  "org.tokend.Tokend1.Token"], sorted(documented)


def manager_introspection_matches_the_documented_xml():
    got = live(ROOT)
    assert list(got) == ["org.tokend.Tokend1.Manager"], list(got)
    assert got["org.tokend.Tokend1.Manager"] == documented["org.tokend.Tokend1.Manager"], got


def token_introspection_matches_the_documented_xml():
    got = live(env.tokens()[0])
    assert list(got) == ["org.tokend.Tokend1.Token"], list(got)
    want = documented["org.tokend.Tokend1.Token"]
    for g, w in zip(got["org.tokend.Tokend1.Token"], want):
        assert g == w, f"daemon {g} != documented {w}"
    assert len(got["org.tokend.Tokend1.Token"]) == len(want)


def reader_introspection_matches_the_documented_xml():
    env.wait_for(lambda: len(env.get(ROOT, "org.tokend.Tokend1.Manager", "Readers")) == 2, 10,
                 "the private pcscd's two readers on the bus")
    got = live(env.get(ROOT, "org.tokend.Tokend1.Manager", "Readers")[0])
    assert list(got) == ["org.tokend.Tokend1.Reader"], list(got)
    want = documented["org.tokend.Tokend1.Reader"]
    for g, w in zip(got["org.tokend.Tokend1.Reader"], want):
        assert g == w, f"daemon {g} != documented {w}"
    assert len(got["org.tokend.Tokend1.Reader"]) == len(want), \
        f"daemon has {len(got['org.tokend.Tokend1.Reader'])} members, documented {len(want)}"


try:
    rc = Tap([documented_interfaces_are_manager_token_reader,
              manager_introspection_matches_the_documented_xml,
              token_introspection_matches_the_documented_xml,
              reader_introspection_matches_the_documented_xml]).run()
finally:
    env.close()
sys.exit(1 if env.failed_shutdown else rc)
