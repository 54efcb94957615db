#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A private key without its public key object, as a key generation cut short leaves one (the
soak found it after a worker was killed mid-keygen): listing the token's objects with the PIN
shows it, a request on it is refused in words, a certificate import passes it by, and the
worker never crashes (libp11 0.4.12 dereferences NULL when asked for such a key's public half).
PINs reach tokenctl and pkcs11-tool through standard input and the environment."""

import json
import os
import subprocess
import sys

from tap import Tap
from tokend_env import SOFTHSM_MODULE, TOKEN, USER_PIN, Env, issue_with_test_ca, need

need("dbus-daemon", "busctl", "softhsm2-util", "pkcs11-tool", "openssl", SOFTHSM_MODULE)

TOKENCTL = os.environ["TOKENCTL"]
LONE, PAIR = "a1a1a1a1", "b2b2b2b2"
env = Env(labels=("lone-key",))
serial = env.get(env.token_by_label("lone-key"), TOKEN, "Serial")
env.env["TOKEND_TEST_PIN"] = USER_PIN


def tokenctl(*args):
    p = subprocess.run([TOKENCTL, "--json=short", "--no-ask-password", *args, "--pin-file", "-"],
                       input=f"{USER_PIN}\n", capture_output=True, text=True, env=env.env,
                       timeout=120)
    return p.returncode, json.loads(p.stdout)


def worker():
    return [pid for pid, s in env.worker_pids() if s == serial]


def no_crash():
    assert "signal" not in env.log(), env.log()


def a_private_key_without_its_public_key_is_listed():
    for key in (LONE, PAIR):
        rc, doc = tokenctl("keygen", serial, "--type", "ec-p256", "--id", key)
        assert rc == 0, doc
    rc, out = env.pkcs11_tool("--token-label", "lone-key", "--login", "--pin",
                              "env:TOKEND_TEST_PIN", "--delete-object", "--type", "pubkey", "--id",
                              LONE)
    assert rc == 0, out
    before = worker()
    rc, doc = tokenctl("objects", serial)
    assert rc == 0, doc
    got = sorted((o["class"], o["id"], o["curve"]) for o in doc["objects"])
    assert got == [("private-key", LONE, None), ("private-key", PAIR, "P-256"),
                   ("public-key", PAIR, "P-256")], got
    assert worker() == before, (before, worker())
    no_crash()


def a_request_on_it_is_refused_in_words():
    rc, doc = tokenctl("csr", serial, "--key", LONE, "--subject", "CN=Lone Key")
    assert rc != 0 and "not its public key" in doc["error"]["message"], doc
    rc, doc = tokenctl("csr", serial, "--key", PAIR, "--subject", "CN=Pair")
    assert rc == 0, doc
    no_crash()


def an_import_passes_it_by():
    directory = env.dir
    rc, doc = tokenctl("csr", serial, "--key", PAIR, "--subject", "CN=Pair")
    with open(f"{directory}/pair.csr", "w") as f:
        f.write(doc["request"])
    issue_with_test_ca(directory, "pair.csr", "/CN=Lone Key Test CA")
    rc, doc = tokenctl("import-cert", serial, f"{directory}/holder.pem")
    assert rc == 0 and doc["id"] == PAIR, doc
    no_crash()


try:
    rc = Tap([a_private_key_without_its_public_key_is_listed, a_request_on_it_is_refused_in_words,
              an_import_passes_it_by]).run()
finally:
    env.close()
sys.exit(1 if env.failed_shutdown else rc)
