#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The running daemon's org.tokend.* interfaces match docs/org.tokend.Tokend1.xml."""

import sys

from introspection import documented as documented_interfaces
from introspection import interfaces
from tap import Tap
from tokend_env import ROOT, SOFTHSM_MODULE, Env, need

need("dbus-daemon", "busctl", "softhsm2-util", SOFTHSM_MODULE)


documented = documented_interfaces()

env = Env(labels=("intro",))


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
    readers = env.get(ROOT, "org.tokend.Tokend1.Manager", "Readers")
    if not readers:
        print("# no reader on this bus (SoftHSM2 only): test_daemon_readers checks Reader")
        return
    got = live(readers[0])
    assert got["org.tokend.Tokend1.Reader"] == documented["org.tokend.Tokend1.Reader"], got


try:
    rc = Tap([documented_interfaces_are_manager_token_reader,
              manager_introspection_matches_the_documented_xml,
              token_introspection_matches_the_documented_xml,
              reader_introspection_matches_the_documented_xml]).run()
finally:
    env.close()
sys.exit(1 if env.failed_shutdown else rc)
