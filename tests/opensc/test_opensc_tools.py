#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""OpenSC's own tools as independent clients of a simulated MyEID card: pkcs15-init personalises
it, pkcs11-tool lists it, makes keys on it and runs its self-test, wrong PINs count down and lock
it, the PUK unblocks it (pkcs15-tool, and C_SetPIN in an unlogged session through pkcs11-tool),
and the card keeps its keys when pulled and put back, or when the simulator restarts.

Each check looks at what a user of these tools sees. They run in order on one card."""

import re
import sys

import simenv
from tap import Tap, skip

try:
    simenv.check_available(cards=1)
except simenv.Unavailable as e:
    skip(str(e))

env = simenv.SimEnv(cards=1, label="opensc check")
card = None
reader = None
# Wrong and new PINs, like the real ones, go to the tools as env:VAR.
WRONG_PIN_VAR = "TEST_WRONG_PIN"
NEW_PIN_VAR = "TEST_NEW_PIN"


def pkcs11_tool(*args, check=True):
    rc, out = env.run(["pkcs11-tool", "--module", simenv.OPENSC_PKCS11, *args])
    if check and rc != 0:
        raise AssertionError(f"pkcs11-tool {' '.join(args)} exited with {rc}:\n{out}")
    return rc, out


def login_args(var=simenv.PIN_VAR):
    return ["--login", "--pin", f"env:{var}"]


def slot_of_reader(listing):
    """The "pkcs11-tool -L" block of the slot in our reader, as {field: value}."""
    blocks = re.split(r"^Slot \d+ \(0x[0-9a-f]+\): ", listing, flags=re.M)
    for block in blocks[1:]:
        lines = block.splitlines()
        if lines[0].strip() != reader:
            continue
        fields = {"slot": lines[0].strip()}
        for line in lines[1:]:
            key, sep, value = line.partition(":")
            if sep:
                fields[key.strip()] = value.strip()
            elif line.strip():
                fields[line.strip()] = ""
        return fields
    raise AssertionError(f"no slot for {reader}:\n{listing}")


def token_flags():
    fields = slot_of_reader(pkcs11_tool("--list-slots")[1])
    assert "token flags" in fields, fields
    return {f.strip() for f in fields["token flags"].split(",")}


def verify_status():
    """VERIFY of the user PIN (reference 1) with no data: the status word, e.g. "63C3"."""
    rc, out = env.run(["opensc-tool", "--reader", reader, "--send-apdu", "00 20 00 01"])
    m = re.search(r"Received \(SW1=0x([0-9A-Fa-f]{2}), SW2=0x([0-9A-Fa-f]{2})\)", out)
    assert rc == 0 and m, f"opensc-tool exited with {rc}:\n{out}"
    return (m.group(1) + m.group(2)).upper()


def objects(logged_in=True):
    """(class, key type, id, label) of every key object pkcs11-tool lists."""
    args = (login_args() if logged_in else []) + ["--list-objects"]
    out = pkcs11_tool(*args)[1]
    found = set()
    current = None
    for line in out.splitlines():
        m = re.match(r"^(Private|Public) Key Object; (\w+)", line)
        if m:
            current = [m.group(1), m.group(2), None, None]
            found.add(tuple(current))
            continue
        m = re.match(r"^\s+(label|ID):\s+(.*)$", line)
        if m and current:
            found.discard(tuple(current))
            current[3 if m.group(1) == "label" else 2] = m.group(2).strip()
            found.add(tuple(current))
        elif not line.startswith(" "):
            current = None
    return found


def wrong_login():
    rc, out = pkcs11_tool(*login_args(WRONG_PIN_VAR), "--list-objects", check=False)
    return rc, out


EC_KEYS = {("Private", "EC", "01", "ec-key"), ("Public", "EC", "01", "ec-key")}
RSA_KEYS = {("Private", "RSA", "02", "rsa-key"), ("Public", "RSA", "02", "rsa-key")}


def pkcs15_init_personalises_a_blank_card():
    rc, out = env.run(["pkcs15-tool", "--reader", reader, "--list-pins"])
    assert rc != 0 or "PIN [" not in out, f"a blank card lists PINs:\n{out}"
    env.personalise(0)
    rc, out = env.run(["pkcs15-tool", "--reader", reader, "--list-pins"])
    assert rc == 0, out
    pins = {}
    for block in re.split(r"^PIN \[", out, flags=re.M)[1:]:
        label = block.split("]", 1)[0]
        pins[label] = {k: re.search(rf"^\s+{k}\s+: (.*)$", block, re.M).group(1).strip()
                       for k in ("ID", "Reference", "Flags")}
    user = pins.get("User PIN")
    so = pins.get("Security Officer PIN")
    assert user and user["ID"] == "01" and user["Reference"].startswith("1 "), pins
    assert so and so["ID"] == "ff" and so["Reference"].startswith("3 "), pins
    assert "soPin" in so["Flags"], pins


def pkcs11_tool_lists_the_initialised_token():
    fields = slot_of_reader(pkcs11_tool("--list-slots")[1])
    assert fields.get("token label", "").startswith("opensc check"), fields
    assert fields.get("token manufacturer") == "Aventra Ltd.", fields
    flags = token_flags()
    assert {"login required", "token initialized", "PIN initialized"} <= flags, flags
    assert not flags & {"user PIN locked", "final user PIN try", "user PIN count low"}, flags


def keypairgen_makes_an_ec_p256_key():
    out = pkcs11_tool(*login_args(), "--keypairgen", "--key-type", "EC:prime256v1",
                      "--id", "01", "--label", "ec-key")[1]
    assert "Key pair generated" in out, out
    assert "EC_POINT 256 bits" in out, out
    # The P-256 OID as EC_PARAMS.
    assert "06082a8648ce3d030107" in out, out
    assert EC_KEYS <= objects(), objects()


def keypairgen_makes_an_rsa_2048_key():
    out = pkcs11_tool(*login_args(), "--keypairgen", "--key-type", "rsa:2048",
                      "--id", "02", "--label", "rsa-key")[1]
    assert "Key pair generated" in out, out
    assert "Public Key Object; RSA 2048 bits" in out, out
    assert RSA_KEYS <= objects(), objects()


def pkcs11_tool_self_test_passes():
    rc, out = pkcs11_tool(*login_args(), "--test", check=False)
    assert rc == 0 and re.search(r"^No errors$", out, re.M), out
    assert "RSA-PKCS: OK" in out and "SHA256-RSA-PKCS: OK" in out, out


def verify_without_data_reports_three_tries():
    assert verify_status() == "63C3"


def two_wrong_pins_leave_the_final_try():
    env.env[WRONG_PIN_VAR] = "".join("9" if c != "9" else "1" for c in env.pin)
    for tries_left in (2, 1):
        rc, out = wrong_login()
        assert rc != 0 and "CKR_PIN_INCORRECT" in out, out
        assert verify_status() == f"63C{tries_left}"
    flags = token_flags()
    assert "final user PIN try" in flags and "user PIN locked" not in flags, flags


def third_wrong_pin_locks_the_pin():
    rc, out = wrong_login()
    assert rc != 0 and "CKR_PIN_INCORRECT" in out, out
    flags = token_flags()
    assert "user PIN locked" in flags and "final user PIN try" not in flags, flags
    assert verify_status() == "6983"
    rc, out = pkcs11_tool(*login_args(), "--list-objects", check=False)
    assert rc != 0 and "CKR_PIN_LOCKED" in out, f"the right PIN opens a locked card:\n{out}"


def pkcs15_tool_unblocks_with_the_puk():
    env.env[NEW_PIN_VAR] = "".join(str((int(c) + 1) % 10) for c in env.pin)
    rc, out = env.run(["pkcs15-tool", "--reader", reader, "--unblock-pin", "--auth-id", "01",
                       "--puk", f"env:{simenv.PUK_VAR}", "--new-pin", f"env:{NEW_PIN_VAR}"])
    assert rc == 0, out
    flags = token_flags()
    assert not flags & {"user PIN locked", "final user PIN try"}, flags
    assert verify_status() == "63C3"
    pkcs11_tool(*login_args(NEW_PIN_VAR), "--list-objects")


def pkcs11_tool_unlocks_with_the_puk_in_an_unlogged_session():
    for _ in range(3):
        wrong_login()
    assert "user PIN locked" in token_flags()
    # C_SetPIN(PUK, new PIN) without a login: RESET RETRY COUNTER, as configured in OPENSC_CONF.
    out = pkcs11_tool("--unlock-pin", "--puk", f"env:{simenv.PUK_VAR}",
                      "--new-pin", f"env:{simenv.PIN_VAR}")[1]
    assert "PIN successfully changed" in out, out
    flags = token_flags()
    assert not flags & {"user PIN locked", "final user PIN try"}, flags
    assert verify_status() == "63C3"
    rc, out = pkcs11_tool(*login_args(NEW_PIN_VAR), "--list-objects", check=False)
    assert rc != 0 and "CKR_PIN_INCORRECT" in out, f"the PIN set before still works:\n{out}"
    pkcs11_tool(*login_args(), "--list-objects")


def card_keeps_its_keys_and_counter_when_pulled_and_put_back():
    wrong_login()
    assert verify_status() == "63C2"
    card.remove()
    env.wait_card(0, present=False)
    fields = slot_of_reader(pkcs11_tool("--list-slots")[1])
    assert "(empty)" in fields or "token label" not in fields, fields
    card.insert()
    env.wait_card(0, present=True)
    assert verify_status() == "63C2"
    assert EC_KEYS | RSA_KEYS <= objects(), objects()


def card_keeps_its_keys_when_the_simulator_restarts():
    card.stop()
    env.wait_card(0, present=False)
    card.start()
    env.wait_card(0, present=True)
    assert EC_KEYS | RSA_KEYS <= objects(), objects()
    fields = slot_of_reader(pkcs11_tool("--list-slots")[1])
    assert fields.get("token label", "").startswith("opensc check"), fields


rc = 1
try:
    env.start()
    card = env.cards[0]
    reader = card.reader
    rc = Tap([pkcs15_init_personalises_a_blank_card,
              pkcs11_tool_lists_the_initialised_token,
              keypairgen_makes_an_ec_p256_key,
              keypairgen_makes_an_rsa_2048_key,
              pkcs11_tool_self_test_passes,
              verify_without_data_reports_three_tries,
              two_wrong_pins_leave_the_final_try,
              third_wrong_pin_locks_the_pin,
              pkcs15_tool_unblocks_with_the_puk,
              pkcs11_tool_unlocks_with_the_puk_in_an_unlogged_session,
              card_keeps_its_keys_and_counter_when_pulled_and_put_back,
              card_keeps_its_keys_when_the_simulator_restarts]).run()
finally:
    env.close()
sys.exit(rc)
