#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every Token method on SoftHSM2 tokens through tokend, called with busctl and gdbus and
cross-checked with pkcs11-tool and openssl."""

import json
import subprocess
import sys

from tap import Tap
from tokend_env import (SO_PIN, SOFTHSM_MODULE, TOKEN, USER_PIN, Env, gvariant_options,
                        issue_with_test_ca, need, options)

need("dbus-daemon", "busctl", "gdbus", "softhsm2-util", "pkcs11-tool", "openssl", SOFTHSM_MODULE)

env = Env(labels=("methods-a",))
path = env.token_by_label("methods-a")
state = {"pin": USER_PIN}


def pin():
    return state["pin"].encode()


def listed(*extra):
    rc, out = env.pkcs11_tool("--token-label", "methods-a", "--login", "--pin", state["pin"],
                              "--list-objects", *extra)
    assert rc == 0, out
    return out


def objects(with_pin=True):
    kw = {"pin": pin()} if with_pin else {}
    return env.call(path, "ListObjects", "a{sv}", *options(**kw))[0]


def value(o, key):
    return o[key]["data"]


def ledger_failures():
    """The failed SO PIN attempts that the retry ledger in tokend's state dir records for the
    token. Its format (libtoken/retry-ledger.c): {"version": 1, "tokens": {SERIAL: {"failed": N,
    "updated": TIME}}}, N being reset to 0 by a right SO PIN."""
    serial = env.get(path, TOKEN, "Serial")
    with open(f"{env.dir}/retry-ledger.json") as f:
        ledger = json.load(f)
    assert ledger["version"] == 1, ledger
    assert serial in ledger["tokens"], f"no entry for {serial}: {ledger}"
    return ledger["tokens"][serial]["failed"]


def generate_rsa_and_ec_key_pairs_on_the_token():
    rsa_id, rsa_pem = env.call(path, "GenerateKeyPair", "sa{sv}", "rsa2048",
                               *options(pin=pin(), label="rsa-key"))
    ec_id, ec_pem = env.call(path, "GenerateKeyPair", "sa{sv}", "ec-p256",
                             *options(pin=pin(), label="ec-key", id=b"\x01\x02"))
    assert rsa_pem.startswith("-----BEGIN PUBLIC KEY-----"), rsa_pem
    assert ec_id == [1, 2], ec_id
    state["rsa_id"], state["ec_id"] = rsa_id, ec_id
    out = listed()
    assert "rsa-key" in out and "ec-key" in out, out
    assert "ID:         0102" in out, out
    keys = [o for o in objects() if value(o, "class") == "private-key"]
    types = sorted((value(o, "label"), value(o, "key-type"), value(o, "bits")) for o in keys)
    assert types == [("ec-key", "ec", 256), ("rsa-key", "rsa", 2048)], types
    public_only = objects(with_pin=False)
    assert all(value(o, "class") != "private-key" for o in public_only), public_only


def create_request_verifies_with_openssl():
    pem = env.call(path, "CreateRequest", "aysa{sv}", len(state["ec_id"]),
                   *state["ec_id"], "CN=Test Holder,O=Agency", *options(pin=pin(), email=["holder@example.org"]))[0]
    with open(f"{env.dir}/req.pem", "w") as f:
        f.write(pem)
    p = subprocess.run(["openssl", "req", "-in", f"{env.dir}/req.pem", "-verify", "-noout",
                        "-subject"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "verify OK" in p.stdout + p.stderr, p.stdout + p.stderr
    assert "CN = Test Holder" in p.stdout, p.stdout


def import_certificate_with_ca_chain():
    cert, ca = issue_with_test_ca(env.dir, "req.pem", "/CN=Test CA")
    cert_id = env.call(path, "ImportCertificate", "aya{sv}", len(cert), *cert,
                       *options(pin=pin(), chain=[ca]))[0]
    assert cert_id == state["ec_id"], cert_id
    certs = [o for o in objects() if value(o, "class") == "certificate"]
    subjects = sorted(value(o, "subject") for o in certs)
    assert subjects == ["CN=Test CA", "CN=Test Holder,O=Agency"], subjects
    holder = [o for o in certs if value(o, "subject").startswith("CN=Test Holder")][0]
    assert value(holder, "issuer") == "CN=Test CA"
    assert value(holder, "not-after") > value(holder, "not-before")
    ca_cert = [o for o in certs if value(o, "subject") == "CN=Test CA"][0]
    assert value(holder, "ca") is False and value(ca_cert, "ca") is True, certs
    assert listed("--type", "cert").count("Certificate Object") == 2
    again = env.call_error(path, "ImportCertificate", "@ay [%s]" % ", ".join(map(str, cert)),
                           gvariant_options(pin=pin()))
    assert again and again[0] == "org.tokend.Tokend1.Error.Duplicate", again
    nokey = env.call_error(path, "ImportCertificate", "@ay [%s]" % ", ".join(map(str, ca)),
                           gvariant_options(pin=pin()))
    assert nokey and nokey[0] == "org.tokend.Tokend1.Error.NoMatchingKey", nokey


def wrong_pin_is_pin_incorrect_and_changes_nothing():
    before = listed()
    err = env.call_error(path, "GenerateKeyPair", "ec-p256", gvariant_options(pin=b"999999"))
    assert err and err[0] == "org.tokend.Tokend1.Error.PinIncorrect", err
    assert listed() == before


def unknown_option_is_invalid_argument_naming_it():
    err = env.call_error(path, "ListObjects", gvariant_options(colour="blue"))
    assert err and err[0] == "org.tokend.Tokend1.Error.InvalidArgument", err
    assert "colour" in err[1], err


def change_user_pin():
    env.call(path, "ChangePin", "sa{sv}", "user", *options(pin=pin(), new_pin=b"602718"))
    state["pin"] = "602718"
    listed()
    rc, _ = env.pkcs11_tool("--token-label", "methods-a", "--login", "--pin", USER_PIN,
                            "--list-objects")
    assert rc != 0, "the old PIN still works"


def unblock_refused_without_request_reference():
    err = env.call_error(path, "UnblockPin", gvariant_options(so_pin=SO_PIN.encode(),
                                                              new_pin=b"481516"))
    assert err and err[0] == "org.tokend.Tokend1.Error.InvalidArgument", err
    assert "request" in err[1], err
    listed()  # the PIN is unchanged


def each_wrong_so_pin_is_counted_in_the_retry_ledger():
    # More than one, so that the count is seen to grow, not merely to be there.
    for attempt, request in enumerate(("UNLOCK-2026-0040", "UNLOCK-2026-0041"), 1):
        err = env.call_error(path, "UnblockPin",
                             gvariant_options(so_pin=b"wrong-so-pin", new_pin=b"481516",
                                              request=request))
        assert err and err[0] == "org.tokend.Tokend1.Error.PinIncorrect", err
        failed = ledger_failures()
        assert failed == attempt, f"the ledger counts {failed} after {attempt} wrong SO PIN(s)"


def unblock_with_so_pin_sets_a_new_user_pin():
    env.call(path, "UnblockPin", "a{sv}", *options(so_pin=SO_PIN.encode(), new_pin=b"481516",
                                                   request="UNLOCK-2026-0042"))
    state["pin"] = "481516"
    listed()
    failed = ledger_failures()
    assert failed == 0, f"the ledger still counts {failed} after the right SO PIN"


def delete_certificate_and_key():
    env.call(path, "DeleteObject", "saya{sv}", "certificate", len(state["ec_id"]),
             *state["ec_id"], *options(pin=pin()))
    assert listed("--type", "cert").count("Certificate Object") == 1  # the CA stays
    env.call(path, "DeleteObject", "saya{sv}", "key", len(state["ec_id"]), *state["ec_id"],
             *options(pin=pin()))
    out = listed()
    assert "ec-key" not in out and "rsa-key" in out, out
    err = env.call_error(path, "DeleteObject", "key", "@ay [1, 2]", gvariant_options(pin=pin()))
    assert err and err[0] == "org.tokend.Tokend1.Error.InvalidArgument", err


def initialize_destroys_everything():
    env.call(path, "Initialize", "sa{sv}", "methods-a", *options(so_pin=SO_PIN.encode(),
                                                                  new_pin=b"735190"))
    state["pin"] = "735190"
    out = listed()
    assert "rsa-key" not in out and "Certificate Object" not in out, out


def properties_follow_the_token():
    assert env.get(path, TOKEN, "Module") == SOFTHSM_MODULE
    assert env.get(path, TOKEN, "Busy") is False
    assert env.get(path, TOKEN, "UserPinState") == "ok"
    assert env.get(path, TOKEN, "Initialized") is True


def a_dry_run_needs_no_secret_leaves_the_token_and_the_trail_alone():
    before = env.audit_records()
    label = env.get(path, TOKEN, "Label")
    # Empty results of the method's own types.
    assert env.call(path, "ChangePin", "sa{sv}", "user", *options(dry_run=True)) == []
    assert env.call(path, "GenerateKeyPair", "sa{sv}", "ec-p256", *options(dry_run=True)) == \
        [[], ""]
    assert env.call(path, "Initialize", "sa{sv}", "dry", *options(dry_run=True)) == []
    assert env.call(path, "ListObjects", "a{sv}", *options(dry_run=True)) == [[]]
    # The cheap checks still answer: the reference an unblock needs, the PIN policy.
    err = env.call_error(path, "UnblockPin", gvariant_options(dry_run=True))
    assert err and err[0] == "org.tokend.Tokend1.Error.InvalidArgument", err
    assert 'option "request"' in err[1], err
    err = env.call_error(path, "ChangePin", "'user'", gvariant_options(dry_run=True,
                                                                       new_pin=b"1111"))
    assert err and err[0] == "org.tokend.Tokend1.Error.PinPolicy", err
    assert env.get(path, TOKEN, "Label") == label
    assert env.audit_records() == before, env.audit_records()[len(before):]
    assert env.get(path, TOKEN, "EffectiveMinPinLength") == \
        max(6, env.get(path, TOKEN, "MinPinLength"))


def audit_trail_records_each_change_without_secrets():
    with open(f"{env.dir}/audit.jsonl") as f:
        text = f.read()
    lines = [json.loads(l) for l in text.splitlines()]
    ops = [(l["operation"], l["result"], l.get("error")) for l in lines]
    assert ("unblock-pin", "failed", "PinIncorrect") in ops, ops
    for want in [("generate-key", "ok", None), ("create-request", "ok", None),
                 ("import-certificate", "ok", None), ("generate-key", "failed", "PinIncorrect"),
                 ("change-pin", "ok", None), ("unblock-pin", "ok", None),
                 ("delete-object", "ok", None), ("initialize", "ok", None),
                 ("list-objects", "ok", None)]:
        assert want in ops, (want, ops)
    # A call refused by tokend's own argument checks never reached polkit: it is answered, not
    # written to the trail (an unauthorised caller must not be able to fill it).
    assert ("unblock-pin", "refused", "InvalidArgument") not in ops, ops
    # tokend's start record comes first; then every outcome follows its intent record, written
    # before the token was touched, and names it.
    assert lines[0]["operation"] == "start", lines[0]
    lines = lines[1:]
    for i, line in enumerate(lines):
        if line["result"] != "intent":
            before = lines[i - 1] if i else {}
            assert before.get("result") == "intent" and \
                before["operation"] == line["operation"], (i, line, before)
            assert line["intent"] == before["seq"], (line, before)
    unblock = [l for l in lines if l["operation"] == "unblock-pin" and l["result"] == "ok"][0]
    assert unblock["request"] == "UNLOCK-2026-0042", unblock
    assert unblock["uid"] == 0 and unblock["serial"] == env.get(path, TOKEN, "Serial")
    for secret in (USER_PIN, SO_PIN, "602718", "481516", "735190"):
        assert secret not in text, "a PIN reached the audit trail"


try:
    rc = Tap([generate_rsa_and_ec_key_pairs_on_the_token, create_request_verifies_with_openssl,
              import_certificate_with_ca_chain, wrong_pin_is_pin_incorrect_and_changes_nothing,
              unknown_option_is_invalid_argument_naming_it,
              a_dry_run_needs_no_secret_leaves_the_token_and_the_trail_alone, change_user_pin,
              unblock_refused_without_request_reference,
              each_wrong_so_pin_is_counted_in_the_retry_ledger,
              unblock_with_so_pin_sets_a_new_user_pin, delete_certificate_and_key,
              initialize_destroys_everything, properties_follow_the_token,
              audit_trail_records_each_change_without_secrets]).run()
finally:
    env.close()
sys.exit(1 if env.failed_shutdown else rc)
