#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""tokend on the bus with a simulated MyEID card behind pcscd: every method called with busctl
as an independent client, each result checked with pkcs11-tool on OpenSC and with the card's
own counters; the card pulled and inserted again, watched with dbus-monitor."""

import subprocess
import sys
import time

from card_env import MANAGER, ROOT, TOKEN, CardEnv, gvariant_options, need_cards, options
from tap import Tap
from tokend_env import BUS_NAME, issue_with_test_ca

need_cards()

env = CardEnv(label="bus card")
d = env.daemon
state = {"pin": env.sim.pin}
latency = {}


def pin():
    return state["pin"].encode()


def timed(name, method, signature, *args):
    data, seconds = env.timed_call(method, signature, *args)
    latency[name] = seconds
    return data


def run(*args):
    p = subprocess.run(args, capture_output=True, text=True, cwd=d.dir)
    assert p.returncode == 0, f"{args}: {p.stderr}"
    return p.stdout + p.stderr


def card_token_on_the_bus_with_its_reader_and_counters():
    managed = d.busctl("call", BUS_NAME, ROOT, "org.freedesktop.DBus.ObjectManager",
                       "GetManagedObjects")["data"][0]
    props = {k: v["data"] for k, v in managed[env.path][TOKEN].items()}
    assert props["Reader"] == env.card.reader, props
    assert props["Module"].endswith("opensc-pkcs11.so"), props
    assert props["Label"].startswith("bus card"), props
    tries, max_tries, _, _ = env.counters(1)
    assert (props["UserPinRetries"], props["UserPinRetriesSource"]) == (tries, "card"), props
    assert props["UserPinState"] == "ok", props
    # What pkcs11-tool -L shows for the card: initialised, PIN set, no PIN pad.
    assert (props["Initialized"], props["UserPinInitialized"]) == (True, True), props
    assert props["ProtectedAuthenticationPath"] is False, props
    readers = d.get(ROOT, MANAGER, "Readers")
    holding = [r for r in readers if d.get(r, "org.tokend.Tokend1.Reader", "Token") == env.path]
    assert len(holding) == 1, readers
    rc, out = env.pkcs11_tool("--list-token-slots")
    assert rc == 0, out
    assert f"serial num         : {props['Serial']}" in out, (props["Serial"], out)
    assert props["Label"] in out, out


def generate_rsa2048_and_ec_p256_on_the_card():
    rsa_id, rsa_pem = timed("GenerateKeyPair rsa2048", "GenerateKeyPair", "sa{sv}", "rsa2048",
                            *options(pin=pin(), label="rsa-key"))
    ec_id, ec_pem = timed("GenerateKeyPair ec-p256", "GenerateKeyPair", "sa{sv}", "ec-p256",
                          *options(pin=pin(), label="ec-key", id=b"\x0e\xc1"))
    assert ec_id == [0x0E, 0xC1], ec_id
    state["rsa_id"], state["ec_id"] = bytes(rsa_id), bytes(ec_id)
    with open(f"{d.dir}/rsa.pub", "w") as f:
        f.write(rsa_pem)
    assert "Public-Key: (2048 bit)" in run("openssl", "pkey", "-pubin", "-in", "rsa.pub",
                                           "-noout", "-text")
    with open(f"{d.dir}/ec.pub", "w") as f:
        f.write(ec_pem)
    assert "P-256" in run("openssl", "pkey", "-pubin", "-in", "ec.pub", "-noout", "-text")
    want = sorted([("private-key", rsa_id_hex(), "rsa-key"), ("public-key", rsa_id_hex(),
                    "rsa-key"), ("private-key", "0ec1", "ec-key"),
                   ("public-key", "0ec1", "ec-key")])
    assert env.p11_objects(pin=state["pin"]) == want, env.p11_objects(pin=state["pin"])
    assert env.objects(pin=state["pin"]) == want, env.objects(pin=state["pin"])
    keys = env.call("ListObjects", "a{sv}", *options(pin=pin()))[0]
    kinds = sorted((o["label"]["data"], o["key-type"]["data"], o["bits"]["data"])
                   for o in keys if o["class"]["data"] == "private-key")
    assert kinds == [("ec-key", "ec", 256), ("rsa-key", "rsa", 2048)], kinds


def rsa_id_hex():
    return state["rsa_id"].hex()


def create_requests_verify_with_openssl():
    for name, key_id in (("ec", state["ec_id"]), ("rsa", state["rsa_id"])):
        pem = timed(f"CreateRequest {name}", "CreateRequest", "aysa{sv}", len(key_id), *key_id,
                    "CN=Card Holder,O=Agency", *options(pin=pin(),
                                                        email=["holder@example.org"]))[0]
        with open(f"{d.dir}/{name}.req", "w") as f:
            f.write(pem)
        out = run("openssl", "req", "-in", f"{name}.req", "-verify", "-noout", "-subject")
        assert "verify OK" in out and "CN = Card Holder" in out, out
        # Signed by the key on the card: the request carries that key.
        req_key = run("openssl", "req", "-in", f"{name}.req", "-noout", "-pubkey")
        with open(f"{d.dir}/{name}.pub") as f:
            assert req_key.strip() == f.read().strip(), name


def import_certificate_with_its_ca_chain():
    cert, ca = issue_with_test_ca(d.dir, "ec.req", "/CN=Card Test CA")
    cert_id = timed("ImportCertificate", "ImportCertificate", "aya{sv}", len(cert), *cert,
                    *options(pin=pin(), chain=[ca]))[0]
    assert bytes(cert_id) == state["ec_id"], cert_id
    certs = env.p11_objects(kind="cert")
    assert len(certs) == 2 and ("certificate", "0ec1", "ec-key") in certs, certs
    # The certificate on the card is the one imported.
    rc, out = env.pkcs11_tool("--read-object", "--type", "cert", "--id", "0ec1",
                              "--output-file", f"{d.dir}/back.der")
    assert rc == 0, out
    back = run("openssl", "x509", "-inform", "DER", "-in", "back.der", "-noout", "-fingerprint")
    assert back == run("openssl", "x509", "-in", "holder.pem", "-noout", "-fingerprint")
    listed = [o for o in env.call("ListObjects", "a{sv}", *options())[0]
              if o["class"]["data"] == "certificate"]
    subjects = sorted((o["subject"]["data"], o["issuer"]["data"]) for o in listed)
    assert subjects == [("CN=Card Holder,O=Agency", "CN=Card Test CA"),
                        ("CN=Card Test CA", "CN=Card Test CA")], subjects


def wrong_pin_is_pin_incorrect_with_tries_left_and_changes_nothing():
    before = env.p11_objects()
    tries, max_tries, puk, puk_max = env.counters(1)
    assert tries == max_tries, (tries, max_tries)
    start = time.monotonic()
    err = env.call_error("GenerateKeyPair", "'ec-p256'", gvariant_options(pin=b"000000"))
    latency["wrong PIN"] = time.monotonic() - start
    assert err and err[0] == "org.tokend.Tokend1.Error.PinIncorrect", err
    assert f"{max_tries - 1} tries left" in err[1], err
    assert env.counters(1) == (max_tries - 1, max_tries, puk, puk_max), env.counters(1)
    assert env.prop("UserPinRetries") == max_tries - 1
    assert env.prop("UserPinRetriesSource") == "card"
    assert env.p11_objects() == before
    # A right PIN puts the counter back.
    env.objects(pin=state["pin"])
    assert env.counters(1)[0] == max_tries


def change_user_pin():
    timed("ChangePin", "ChangePin", "sa{sv}", "user", *options(pin=pin(), new_pin=b"602718"))
    old, state["pin"] = state["pin"], "602718"
    assert env.login_works(state["pin"])
    assert not env.login_works(old), "the old PIN still works"
    env.objects(pin=state["pin"])  # the try spent on the old PIN is given back


def lock_the_user_pin():
    """Three wrong PINs through tokend: the state goes final-try, then locked. The final try
    is spent only with force, and never by a read."""
    seen = []
    for _ in range(env.counters(1)[1]):
        if env.prop("UserPinState") == "final-try":
            before = env.counters(1)
            for method, args in (("ListObjects", [gvariant_options(pin=b"000000")]),
                                 ("ChangePin", ["'user'", gvariant_options(pin=b"000000",
                                                                         new_pin=b"406172")])):
                err = env.call_error(method, *args)
                assert err and err[0] == "org.tokend.Tokend1.Error.PinFinalTry", (method, err)
            assert env.counters(1) == before, (before, env.counters(1))
        err = env.call_error("ChangePin", "'user'",
                             gvariant_options(pin=b"000000", new_pin=b"406172", force=True))
        assert err and err[0] in ("org.tokend.Tokend1.Error.PinIncorrect",
                                  "org.tokend.Tokend1.Error.PinLocked"), err
        seen.append(env.prop("UserPinState"))
    assert seen[-2:] == ["final-try", "locked"], seen
    assert env.counters(1)[0] == 0
    # The boolean properties say what they say whatever the PIN state next to them is.
    assert env.prop("ProtectedAuthenticationPath") is False
    assert env.prop("UserPinInitialized") is True


def unblock_with_the_puk():
    lock_the_user_pin()
    timed("UnblockPin", "UnblockPin", "a{sv}",
          *options(so_pin=env.sim.puk.encode(), new_pin=b"481570", request="ULA-2026-0107"))
    state["pin"] = "481570"
    tries, max_tries, puk, puk_max = env.counters(1)
    assert (tries, puk) == (max_tries, puk_max), env.counters(1)
    assert env.prop("UserPinState") == "ok"
    assert env.login_works(state["pin"])


def card_pulled_and_inserted_again():
    env.start_monitor()
    path = env.path
    before = env.p11_objects(pin=state["pin"])
    env.card.remove()
    d.wait_for(lambda: ("TokenRemoved", path) in env.signals(), 10, "TokenRemoved")
    assert d.tokens() == []
    managed = d.busctl("call", BUS_NAME, ROOT, "org.freedesktop.DBus.ObjectManager",
                       "GetManagedObjects")["data"][0]
    assert path not in managed, managed
    err = d.call_error(path, "ListObjects", gvariant_options())
    assert err and err[0] == "org.freedesktop.DBus.Error.UnknownObject", err
    start = time.monotonic()
    env.card.insert()
    d.wait_for(lambda: ("TokenAdded", path) in env.signals(), 10, "TokenAdded")
    latency["insert to TokenAdded"] = time.monotonic() - start
    assert d.tokens() == [path]
    env.wait_token()
    # The card kept its keys, its certificates and its new PIN.
    assert env.p11_objects(pin=state["pin"]) == before
    assert ("private-key", "0ec1", "ec-key") in env.objects(pin=state["pin"])
    assert [s for s, _ in env.signals()].count("TokenAdded") == 1, env.signals()


def delete_certificate_and_key():
    ec = state["ec_id"]
    timed("DeleteObject certificate", "DeleteObject", "saya{sv}", "certificate", len(ec), *ec,
          *options(pin=pin()))
    certs = env.p11_objects(kind="cert")
    assert [label for _, _, label in certs] == ["Card Test CA"], certs  # the CA stays
    timed("DeleteObject key", "DeleteObject", "saya{sv}", "key", len(ec), *ec,
          *options(pin=pin()))
    left = env.p11_objects(pin=state["pin"])
    assert all(o[1] != "0ec1" for o in left), left
    assert ("private-key", rsa_id_hex(), "rsa-key") in left, left


def initialize_with_a_wrong_so_pin_erases_nothing():
    before = env.p11_objects(pin=state["pin"])
    so_tries = env.counters(3)[0]
    err = env.call_error("Initialize", "'renamed'",
                         gvariant_options(so_pin=b"87654321", new_pin=b"735190"))
    assert err and err[0] == "org.tokend.Tokend1.Error.PinIncorrect", err
    assert env.p11_objects(pin=state["pin"]) == before
    assert env.counters(3)[0] == so_tries - 1, env.counters(3)
    assert env.prop("Label").startswith("bus card")
    # The right SO PIN resets the SO PIN's counter again (the next test's first step).


def initialize_gives_the_card_a_new_label_and_pins_and_nothing_else():
    err = env.call_error("Initialize", "'renamed'", gvariant_options(so_pin=env.sim.so_pin.encode()))
    assert err and err[0] == "org.tokend.Tokend1.Error.InvalidArgument", err
    assert "new-pin" in err[1], err
    timed("Initialize", "Initialize", "sa{sv}", "renamed",
          *options(so_pin=env.sim.so_pin.encode(), new_pin=b"735190"))
    state["pin"] = "735190"
    env.daemon.wait_for(lambda: env.prop("Label") == "renamed", 5, "the new label")
    assert env.p11_objects(pin=state["pin"]) == [], env.p11_objects(pin=state["pin"])
    assert env.prop("UserPinState") == "ok"
    tries, max_tries, puk, puk_max = env.counters(1)
    assert (tries, puk) == (max_tries, puk_max), env.counters(1)
    assert env.counters(3)[0] == env.counters(3)[1], env.counters(3)
    rc, out = env.pkcs11_tool("-L")
    assert rc == 0 and "token label        : renamed\n" in out, out
    # The SO PIN is the new user PIN's PUK: the helpdesk unblocks with the same secret.
    assert env.login_works("735190")


def audit_trail_has_the_card_operations_without_secrets():
    import json
    with open(f"{d.dir}/audit.jsonl") as f:
        text = f.read()
    ops = {(json.loads(line)["operation"], json.loads(line)["result"])
           for line in text.splitlines()}
    for want in ("generate-key", "create-request", "import-certificate", "change-pin",
                 "unblock-pin", "delete-object"):
        assert (want, "ok") in ops, (want, ops)
    assert ("initialize", "ok") in ops, ops
    for secret in (env.sim.pin, env.sim.puk, env.sim.so_pin, "602718", "481570", "735190"):
        assert secret not in text, "a PIN reached the audit trail"


def report_latencies():
    for name, seconds in latency.items():
        print(f"# {name}: {seconds * 1000:.0f} ms")


try:
    rc = Tap([card_token_on_the_bus_with_its_reader_and_counters,
              generate_rsa2048_and_ec_p256_on_the_card, create_requests_verify_with_openssl,
              import_certificate_with_its_ca_chain,
              wrong_pin_is_pin_incorrect_with_tries_left_and_changes_nothing, change_user_pin,
              unblock_with_the_puk, card_pulled_and_inserted_again, delete_certificate_and_key,
              initialize_with_a_wrong_so_pin_erases_nothing,
              initialize_gives_the_card_a_new_label_and_pins_and_nothing_else,
              audit_trail_has_the_card_operations_without_secrets]).run()
    report_latencies()
finally:
    env.close()
sys.exit(1 if env.failed_shutdown else rc)
