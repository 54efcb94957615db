#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""tokenctl provision on 16 simulated MyEID cards in their readers (TOKEND_PROVISION_CARDS), side
by side through tokend: every card initialised with the manifest's label, given an EC key pair
and a request with the manifest's subject, written to the output directory; one card pulled once
it is initialised, while its key pair is being generated, fails alone, with its error and exit
status, and the others are done. Then provision --import stores the certificates a test CA
issued for the requests, each on the card that holds its key, with the CA's certificate, and
names the card that got none and the file that fits no card. Every card is checked on its own
side too: its key files (tokend-sim's control socket) and what tokend lists."""

import json
import os
import re
import subprocess
import sys
import tempfile
import time

from card_env import CardEnv, need_cards
from tap import Tap
from tokend_env import TOKEN, run_on_pty
from tokenctl_json import TokenctlJson

TOKENCTL = os.environ["TOKENCTL"]
CARDS = int(os.environ.get("TOKEND_PROVISION_CARDS", "16"))
NEW_PIN = "271828"

need_cards()

env = CardEnv(cards=CARDS, readers=CARDS, label="provision card")
d = env.daemon
work = tempfile.mkdtemp(prefix="provision.", dir=d.dir)
js = TokenctlJson(TOKENCTL, d)
state = {}


def tokenctl(*args, stdin="", expect=0):
    p = subprocess.run([TOKENCTL, *args], input=stdin, capture_output=True, text=True,
                       env=d.env, timeout=600, start_new_session=True)
    assert p.returncode == expect, (f"tokenctl {' '.join(args)}: exit {p.returncode}, wanted "
                                    f"{expect}\n{p.stdout}\n{p.stderr}")
    return p


def tokens_by_serial():
    return {d.get(p, TOKEN, "Serial"): p for p in d.tokens()}


def write(name, text):
    path = os.path.join(work, name)
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(text)
    return path


def openssl(*args, stdin=None):
    p = subprocess.run(["openssl", *args], input=stdin, capture_output=True, text=True, cwd=work)
    assert p.returncode == 0, f"openssl {args}: {p.stderr}"
    return p.stdout


def provision_while(manifest, names, during):
    """tokenctl --json provision of the manifest text on the tokens named (none: every card),
    with during() run meanwhile and every card at 20 ms a command, as a real one is: (document,
    exit status, standard error, seconds)."""
    path = write("manifest.ini", manifest)
    so_file, pin_file = write("so-pin", f"{env.sim.so_pin}\n"), write("pin", f"{NEW_PIN}\n")
    for c in env.sim.cards:
        c.delay(20)
    began = time.monotonic()
    run = subprocess.Popen([TOKENCTL, "--json", "provision", path, *names, "--yes",
                            "--so-pin-file", so_file, "--new-pin-file", pin_file],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, env=d.env, start_new_session=True)
    try:
        during()
        out, err = run.communicate(timeout=600)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        for c in env.sim.cards:
            c.delay(0)
    doc = json.loads(out)
    js.validate("provision", doc)
    return doc, run.returncode, err, time.monotonic() - began


MANIFEST = """[Token]
Label=AG {serial}
[Key]
Type=ec-p256
Label=holder key
[Request]
Subject=CN=Holder {serial},O=Agency {request},C=MO
Reference=ISSUE-1
Output=requests
"""


def every_card_in_its_reader():
    for card in env.sim.cards[1:]:
        card.insert()
    d.wait_for(lambda: len(d.tokens()) == CARDS, 30, f"{CARDS} cards on the bus")
    d.wait_for(lambda: all(d.get(p, TOKEN, "UserPinRetriesSource") == "card"
                           for p in d.tokens()), 30, "every card's counters")
    state["serials"] = sorted(tokens_by_serial())
    state["reader"] = {d.get(p, TOKEN, "Serial"): d.get(p, TOKEN, "Reader") for p in d.tokens()}


def manifest_faults_are_named_before_any_card_is_touched():
    labels = {s: d.get(p, TOKEN, "Label") for s, p in tokens_by_serial().items()}
    for text, words in ((MANIFEST.replace("Type=ec-p256", "Type=dsa1024"), "[Key] Type=dsa1024"),
                        (MANIFEST.replace("Subject=", "Subjekt="), "manifest.ini:7: [Request] "
                         "Subjekt= is not a key of a manifest"),
                        (MANIFEST.replace("Label=AG {serial}\n", ""), "[Token] Label= is missing"),
                        (MANIFEST.replace("{serial},O", "{serail},O"), "no placeholder")):
        path = write("manifest.ini", text)
        p = tokenctl("provision", path, "--yes", expect=2)
        assert words in p.stderr, (words, p.stderr)
    # Without a terminal to ask on, and without --yes: nothing is done.
    path = write("manifest.ini", MANIFEST)
    p = tokenctl("provision", path, "--so-pin-file", "-", "--new-pin-file", "-",
                 stdin=f"{env.sim.so_pin}\n{NEW_PIN}\n", expect=2)
    assert "--yes" in p.stderr, p.stderr
    assert {s: d.get(p, TOKEN, "Label") for s, p in tokens_by_serial().items()} == labels
    assert not os.path.exists(os.path.join(work, "requests", f"{state['serials'][0]}.csr"))


def provisioning_goes_on_when_one_card_is_pulled_mid_way():
    victim = state["serials"][-1]
    card = next(c for c in env.sim.cards if c.reader == state["reader"][victim])
    victim_path = tokens_by_serial()[victim]

    def pull_once_initialised():
        # Initialised (its new label) and on to its key pair: pulled then.
        d.wait_for(lambda: d.get(victim_path, TOKEN, "Label") == f"AG {victim}", 120,
                   "the victim card initialised")
        card.remove()

    doc, returncode, err, took = provision_while(MANIFEST, [], pull_once_initialised)
    state["took"] = took
    state["provision"] = doc
    each = ", ".join(f"{t['seconds']:.1f} s" for t in doc["tokens"])
    print(f"# {CARDS} cards provisioned side by side (20 ms a command) in {took:.1f} s; per "
          f"card: {each}")
    by = {t["token"]: t for t in doc["tokens"]}
    assert set(by) == set(state["serials"]), doc
    failed = by[victim]
    assert failed["result"] == "failed" and failed["step"] == "generate-key", failed
    assert failed["error"]["name"] == "org.tokend.Tokend1.Error.TokenRemoved", failed
    assert failed["error"]["exit-code"] == returncode == 4, (failed, returncode, err)
    assert failed["request-file"] is None, failed
    assert (doc["done"], doc["failed"]) == (CARDS - 1, 1), doc
    assert doc["request"] == "ISSUE-1", doc
    for serial in state["serials"][:-1]:
        t = by[serial]
        assert t["result"] == "done" and t["error"] is None and t["step"] is None, t
        assert t["label"] == f"AG {serial}", t
        assert t["request-file"] == os.path.join(work, "requests", f"{serial}.csr"), t
        text = openssl("req", "-in", t["request-file"], "-verify", "-noout", "-subject",
                       "-nameopt", "RFC2253")
        assert f"subject=CN=Holder {serial},O=Agency ISSUE-1,C=MO" in text, text
        path = tokens_by_serial()[serial]
        assert d.get(path, TOKEN, "Label") == f"AG {serial}"
        # The card holds one key pair: the one whose public key the request carries.
        own = next(c for c in env.sim.cards if c.reader == state["reader"][serial])
        assert re.search(r"keys=1\b", own.control("keys")), own.control("keys")
        objects = json.loads(tokenctl("--json", "objects", serial).stdout)["objects"]
        assert [o["id"] for o in objects if o["class"] == "public-key"] == [t["key"]], objects
    card.insert()
    d.wait_for(lambda: victim in tokens_by_serial(), 30, "the pulled card back")


def the_trail_has_every_act_of_each_card():
    p = tokenctl("--json", "audit", "list", d.audit_file)
    acts = json.loads(p.stdout)
    for serial in state["serials"][:-1]:
        ops = [a["operation"] for a in acts if a["serial"] == serial and a["result"] == "ok"]
        assert ops[-3:] == ["initialize", "generate-key", "create-request"], (serial, ops)


def issue(csr, name):
    """A certificate for the request, from the test CA, with the CA's certificate after it."""
    cert = openssl("x509", "-req", "-in", csr, "-CA", "ca.pem", "-CAkey", "ca.key",
                   "-CAcreateserial", "-days", "365")
    with open(os.path.join(work, "ca.pem")) as f:
        ca = f.read()
    write(os.path.join("issued", name), cert + ca)


def import_stores_each_certificate_on_the_card_with_its_key():
    os.makedirs(os.path.join(work, "issued"))
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=Test Issuing CA", "-days", "30")
    done = state["serials"][:-1]
    for i, serial in enumerate(done):
        # Named by the CA's numbering, not by the token: the key says where each one goes.
        issue(os.path.join(work, "requests", f"{serial}.csr"), f"cert-{i:02d}.pem")
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "stray.key", "-out", "stray.csr", "-subj", "/CN=Nobody here")
    issue(os.path.join(work, "stray.csr"), "stray.pem")
    p = tokenctl("--json", "provision", "--import", os.path.join(work, "issued"), "--pin-file",
                 "-", stdin=f"{NEW_PIN}\n")
    doc = json.loads(p.stdout)
    js.validate("provision", doc)
    by = {t["token"]: t for t in doc["tokens"]}
    assert (doc["done"], doc["failed"], doc["none"]) == (len(done), 0, 1), doc
    assert doc["unmatched-files"] == [os.path.join(work, "issued", "stray.pem")], doc
    victim = state["serials"][-1]
    assert by[victim]["result"] == "none" and by[victim]["file"] is None, by[victim]
    for i, serial in enumerate(done):
        t = by[serial]
        assert t["result"] == "done", t
        assert t["file"] == os.path.join(work, "issued", f"cert-{i:02d}.pem"), t
        assert t["chain-certificates"] == 1, t
        objects = json.loads(tokenctl("--json", "objects", serial).stdout)["objects"]
        certs = {o["subject"]: o for o in objects if o["class"] == "certificate"}
        holder = certs[f"CN=Holder {serial},O=Agency ISSUE-1,C=MO"]
        assert not holder["ca"] and holder["id"] == t["id"] == state_key(serial), holder
        assert certs["CN=Test Issuing CA"]["ca"], certs


def state_key(serial):
    return next(t["key"] for t in state["provision"]["tokens"] if t["token"] == serial)


def import_again_finds_the_certificates_there():
    p = tokenctl("--json", "provision", "--import", os.path.join(work, "issued"), "--pin-file",
                 "-", stdin=f"{NEW_PIN}\n", expect=1)
    doc = json.loads(p.stdout)
    assert doc["failed"] == CARDS - 1, doc
    assert all(t["error"]["name"] == "org.tokend.Tokend1.Error.Duplicate"
               for t in doc["tokens"] if t["result"] == "failed"), doc


def a_card_inserted_while_the_others_are_provisioned_appears_at_once():
    """The issuing station goes on while a card comes: it is on the bus as soon as it would be
    with nothing else going on (the card's own 20 ms a command included), and the others are
    not slowed."""
    victim = state["serials"][-1]
    card = next(c for c in env.sim.cards if c.reader == state["reader"][victim])

    def pull():
        card.remove()
        d.wait_for(lambda: victim not in tokens_by_serial(), 10, "the card out")

    def insert():
        card.insert()
        inserted = time.monotonic()
        d.wait_for(lambda: victim in tokens_by_serial(), 10, "the inserted card on the bus")
        return time.monotonic() - inserted

    for c in env.sim.cards:
        c.delay(20)
    pull()
    alone = insert()
    pull()
    appeared = []
    doc, returncode, err, took = provision_while(
        MANIFEST.replace("Output=requests", "Output=again"), state["serials"][:-1],
        lambda: (time.sleep(1.5), appeared.append(insert())))
    appeared = appeared[0]
    print(f"# {CARDS - 1} cards provisioned in {took:.1f} s with a card inserted 1.5 s in "
          f"(alone: {state['took']:.1f} s); the inserted card on the bus {appeared * 1000:.0f} ms "
          f"after its insertion (with nothing else going on: {alone * 1000:.0f} ms)")
    assert returncode == 0 and doc["done"] == CARDS - 1, (doc, err)
    # pcscd sees a virtual card at its next poll of the reader (every 400 ms): either wait may
    # hold one poll more than the other.
    assert appeared <= 1.25 * alone + 0.45, (appeared, alone)
    assert took <= 1.25 * state["took"] + 0.5, (took, state["took"])


def a_person_at_a_terminal_sees_each_card_step_by_step():
    two = state["serials"][:2]
    path = write("manifest.ini", MANIFEST.replace("Output=requests", "Output=terminal"))
    so_file, pin_file = write("so-pin", f"{env.sim.so_pin}\n"), write("pin", f"{NEW_PIN}\n")
    rc, out = run_on_pty([TOKENCTL, "provision", path, *two, "--yes", "--so-pin-file", so_file,
                          "--new-pin-file", pin_file], dict(d.env, TERM="xterm", NO_COLOR="1"))
    text = out.decode().replace("\r\n", "\n")
    assert rc == 0, text
    for serial in two:
        said = [l.split(": ", 1)[1] for l in text.splitlines() if l.startswith(f"{serial}: ")]
        assert said == ["initialising", "generating the key pair",
                        "creating the certificate request", "done"], (serial, text)
        row = next(l for l in text.splitlines() if l.startswith(serial) and ": " not in l)
        assert row.split()[1] == "done" and row.endswith(f"terminal/{serial}.csr"), row
    assert "2 of 2 tokens provisioned." in text, text


rc = 1
try:
    rc = Tap([every_card_in_its_reader, manifest_faults_are_named_before_any_card_is_touched,
              provisioning_goes_on_when_one_card_is_pulled_mid_way,
              the_trail_has_every_act_of_each_card,
              import_stores_each_certificate_on_the_card_with_its_key,
              import_again_finds_the_certificates_there,
              a_card_inserted_while_the_others_are_provisioned_appears_at_once,
              a_person_at_a_terminal_sees_each_card_step_by_step]).run()
finally:
    env.close()
sys.exit(1 if env.failed_shutdown else rc)
