#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Workers of a PC/SC-backed module (OpenSC) each get a private OpenSC configuration that
hides every other token's reader (whole names) and makes C_SetPIN in an unlogged session
unblock with the PUK. SoftHSM2 stands in for OpenSC under OpenSC's file name: its slot
descriptions play the reader names."""

import sys

from tap import Tap
from tokend_env import SOFTHSM_MODULE, TOKEN, Env, need

need("dbus-daemon", "busctl", "softhsm2-util", SOFTHSM_MODULE)

env = Env(labels=("pcsc-a", "pcsc-b"), module_link_name="opensc-pkcs11.so")
tokens = {env.get(p, TOKEN, "Serial"): p for p in env.tokens()}


def worker_conf(serial):
    pid = [p for p, s in env.worker_pids() if s == serial][0]
    with open(f"/proc/{pid}/environ", "rb") as f:
        environ = dict(e.split(b"=", 1) for e in f.read().split(b"\0") if b"=" in e)
    with open(environ[b"OPENSC_CONF"].decode()) as f:
        return f.read()


def tokens_carry_their_reader():
    for serial, path in tokens.items():
        reader = env.get(path, TOKEN, "Reader")
        assert reader.startswith("SoftHSM slot"), reader
        assert env.get(path, TOKEN, "Module") == env.module


def each_worker_ignores_every_other_reader_and_unblocks_with_the_puk():
    readers = {s: env.get(p, TOKEN, "Reader") for s, p in tokens.items()}
    for serial in tokens:
        conf = worker_conf(serial)
        others = [r for s, r in readers.items() if s != serial]
        for other in others:
            assert f'"{other}"' in conf, conf
        assert conf.count('"') == 2 * len(others), conf
        assert readers[serial] not in conf, conf
        assert "user_pin_unblock_style = set_pin_in_unlogged_session;" in conf, conf


def worker_is_told_to_unblock_with_the_puk():
    pid = [p for p, s in env.worker_pids()][0]
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        assert b"--unblock-with-puk" in f.read().split(b"\0")


def a_new_token_is_hidden_from_the_workers_already_running():
    env.init_token("pcsc-c")
    env.wait_for(lambda: len(env.tokens()) == 3, 10, "the third token")
    tokens.clear()
    tokens.update({env.get(p, TOKEN, "Serial"): p for p in env.tokens()})
    env.wait_for(lambda: len(env.worker_pids()) == 3, 10, "three workers")
    each_worker_ignores_every_other_reader_and_unblocks_with_the_puk()


try:
    rc = Tap([tokens_carry_their_reader,
              each_worker_ignores_every_other_reader_and_unblocks_with_the_puk,
              worker_is_told_to_unblock_with_the_puk,
              a_new_token_is_hidden_from_the_workers_already_running]).run()
finally:
    env.close()
sys.exit(1 if env.failed_shutdown else rc)
