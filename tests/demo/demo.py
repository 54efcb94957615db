#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The quick-start demo: tokend on a private bus with a private SoftHSM2 token, driven by
tokenctl as an issuing station and a helpdesk would drive it; then the same helpdesk at the
counter with a smart card (a simulated MyEID card behind a private pcscd, through OpenSC),
whose PIN really locks and is unblocked with its PUK. Nothing system-wide is touched;
everything lives in temp dirs that are removed at the end."""

import os
import subprocess
import sys

from tokend_env import SO_PIN, USER_PIN, Env

TOKENCTL = os.path.join(os.environ["TOKEND_BUILD_DIR"], "cli", "tokenctl")
env = Env(labels=("agency-0001",))


def secret_file(name, value):
    path = os.path.join(env.dir, name)
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(value + "\n")
    return path


def step(title):
    print(f"\n== {title}", flush=True)


def tokenctl(*args, expect=0, on=None):
    on = on or env
    shown = " ".join(a if " " not in a else f"'{a}'" for a in args)
    shown = shown.replace(env.dir, "$DEMO").replace(on.dir, "$DEMO_CARD")
    print(f"$ tokenctl {shown}", flush=True)
    p = subprocess.run([TOKENCTL, "--no-ask-password", *args], capture_output=True, text=True,
                       env=on.env, start_new_session=True)
    out = (p.stdout + p.stderr).replace(env.dir, "$DEMO").replace(on.dir, "$DEMO_CARD")
    print(out.rstrip())
    if p.returncode != expect:
        print(f"demo: tokenctl exited {p.returncode}, expected {expect}", file=sys.stderr)
        sys.exit(1)
    return p


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=env.dir)


def card_demo():
    from card_env import CardEnv
    import simenv

    try:
        simenv.check_available(cards=1)
    except simenv.Unavailable as e:
        print(f"\n(The smart-card part needs {e}; skipped.)")
        return
    card = CardEnv(label="agency-0002")
    try:
        d = card.daemon
        serial = card.prop("Serial")
        card_pin = secret_file("card-pin", "604917")
        card_so = secret_file("card-so-pin", card.sim.so_pin)
        card_new = secret_file("card-new-pin", "318406")
        card_wrong = secret_file("card-wrong-pin", "000147")

        step("At the counter with a smart card: a MyEID card in a reader (simulated, over PC/SC)")
        tokenctl("list", on=d)
        print("(The card came personalised; the station formats it afresh with its SO PIN, which")
        print(" also becomes the PUK that unblocks the new user PIN.)")
        tokenctl("--so-pin-file", card_so, "--new-pin-file", card_pin, "init", serial,
                 "--label", "agency-0002", "--yes", on=d)
        tokenctl("--pin-file", card_pin, "keygen", serial, "--type", "ec-p256",
                 "--label", "John Roe signing", "--id", "4502", on=d)

        step("The holder mistypes the PIN twice; tokend keeps the final try, the card locks "
             "the PIN when it is spent with --force")
        for _ in range(2):
            tokenctl("--pin-file", card_wrong, "--new-pin-file", card_new, "change-pin", serial,
                     expect=5, on=d)
        tokenctl("--pin-file", card_wrong, "--new-pin-file", card_new, "change-pin", serial,
                 expect=7, on=d)
        tokenctl("--pin-file", card_wrong, "--new-pin-file", card_new, "change-pin", serial,
                 "--force", expect=5, on=d)
        tokenctl("status", serial, on=d)

        step("Staff check the ID and the signed unlock application, then unblock with the PUK")
        tokenctl("--so-pin-file", card_so, "--new-pin-file", card_new, "unblock", serial,
                 "--request", "ULA-2026-0043", on=d)
        tokenctl("--pin-file", card_new, "objects", serial, "--login", on=d)
        tokenctl("audit", "verify", os.path.join(d.dir, "audit.jsonl"), on=d)
    finally:
        card.close()


try:
    pin = secret_file("pin", USER_PIN)
    so = secret_file("so-pin", SO_PIN)
    new = secret_file("new-pin", "529361")
    wrong = secret_file("wrong-pin", "000147")
    csr = os.path.join(env.dir, "jane.csr")

    step("The tokens tokend sees (PINs come from files or the terminal, never the command line)")
    tokenctl("list")

    step("Issuing station: initialise the token (everything on it is destroyed)")
    tokenctl("--so-pin-file", so, "--new-pin-file", pin, "init", "agency-0001",
             "--label", "agency-0001", "--yes")

    step("Issuing station: a key pair on the token, and a request signed there")
    tokenctl("--pin-file", pin, "keygen", "agency-0001", "--type", "ec-p256",
             "--label", "Jane Doe signing", "--id", "4501")
    tokenctl("--pin-file", pin, "csr", "agency-0001", "--key", "4501",
             "--subject", "CN=Jane Doe,OU=Registry,O=Agency,C=NL",
             "--email", "jane.doe@agency.example", "-o", csr)

    step("A demo CA issues the certificate (openssl)")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=Demo Agency CA/O=Registration Office",
            "-days", "30", "-addext", "basicConstraints=critical,CA:TRUE")
    openssl("x509", "-req", "-in", "jane.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "365", "-copy_extensions", "copy", "-out", "jane.pem")
    print("issued jane.pem, signed by 'Demo Agency CA'")

    step("The certificate and its CA chain go onto the token, checked against the key")
    tokenctl("--pin-file", pin, "import-cert", "agency-0001", os.path.join(env.dir, "jane.pem"),
             "--chain", os.path.join(env.dir, "ca.pem"))
    tokenctl("status", "agency-0001")

    step("Helpdesk: the holder has forgotten the PIN and tries three times")
    for _ in range(3):
        tokenctl("--pin-file", wrong, "--new-pin-file", new, "change-pin", "agency-0001",
                 expect=5)
    print("(SoftHSM2 only marks the PIN count low; a real card is locked after the third try.)")
    step("Staff check the ID and the signed unlock application, then unblock with the SO PIN")
    tokenctl("--so-pin-file", so, "--new-pin-file", new, "unblock", "agency-0001",
             "--request", "ULA-2026-0042")
    tokenctl("--pin-file", new, "objects", "agency-0001", "--login")

    step("Every act is in the tamper-evident audit trail")
    tokenctl("audit", "verify", os.path.join(env.dir, "audit.jsonl"))

    card_demo()
    print("\nDemo finished.")
finally:
    env.close()
