#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What tokend refuses while it reads a call's arguments and options, before polkit: key labels
with control characters, PINs that are not UTF-8 or hold a control character, subjects whose
values hold one (raw or as an RFC 4514 hex pair), dns and email lists beyond their bounds.
Each refusal names the argument and the rule, never a secret's value, and leaves the token and
the audit trail as they were."""

import re
import subprocess
import sys
import time

from tap import Tap
from tokend_env import BUS_NAME, SOFTHSM_MODULE, TOKEN, USER_PIN, CallError, Env, need, options

need("dbus-daemon", "busctl", "softhsm2-util", "pkcs11-tool", SOFTHSM_MODULE)

env = Env(labels=("rules",))
path = env.token_by_label("rules")
PIN = USER_PIN.encode()


def refusal(method, signature, *args):
    """The message of a call that must fail."""
    try:
        env.call(path, method, signature, *args)
    except CallError as e:
        return e.message
    raise AssertionError(f"{method} was not refused")


def private_keys():
    rc, out = env.pkcs11_tool("--token-label", "rules", "--login", "--pin", USER_PIN,
                              "--list-objects", "--type", "privkey")
    assert rc == 0, out
    return out.count("Private Key Object")


def labels_with_esc_bel_or_newline_are_refused_at_key_generation():
    keys, records = private_keys(), len(env.audit_records())
    for label in ("a\x1b[31mb", "ring\x07", "two\nlines", "del\x7f", "c1\u009b"):
        message = refusal("GenerateKeyPair", "sa{sv}", "ec-p256",
                          *options(pin=PIN, label=label))
        assert 'Option "label"' in message and "printable" in message, (label, message)
    assert private_keys() == keys
    assert len(env.audit_records()) == records, env.audit_records()[records:]


def a_token_label_with_a_control_character_is_refused_at_initialisation():
    records = len(env.audit_records())
    for label in ("new\x1b]0;x\x07", "two\nlines"):
        message = refusal("Initialize", "sa{sv}", label, *options(so_pin=b"12345678"))
        assert "token label" in message and "printable" in message, message
    assert len(env.audit_records()) == records


def pins_with_control_characters_or_not_utf8_are_refused_by_option_never_shown():
    records = len(env.audit_records())
    cases = (("new_pin", b"4711\n08"), ("new_pin", b"\x1b[0m1234"), ("pin", b"1234\x07"),
             ("pin", b"12\xc2\x9b34"), ("new_pin", b"\xff\xfe1234"), ("pin", b"12\x0034"))
    for name, value in cases:
        kw = {"pin": PIN, "new_pin": b"470815"}
        kw[name] = value
        message = refusal("ChangePin", "sa{sv}", "user", *options(**kw))
        option = name.replace("_", "-")
        assert f'Option "{option}"' in message, (value, message)
        assert "control characters" in message, message
        printable = value.decode("utf-8", "replace")
        for part in (printable, value.hex(), "4711", "1234"):
            assert part not in message, (part, message)
    message = refusal("UnblockPin", "a{sv}",
                      *options(so_pin=b"1234\r5678", new_pin=b"470815", request="ULA-1"))
    assert 'Option "so-pin"' in message and "1234" not in message, message
    assert len(env.audit_records()) == records
    # The PIN is what it was.
    assert env.pkcs11_tool("--token-label", "rules", "--login", "--pin", USER_PIN,
                           "--list-objects")[0] == 0


def a_subject_with_a_control_character_is_refused_before_polkit():
    records = len(env.audit_records())
    for subject, attribute in (("CN=a\\07b", "CN"), ("CN=x,O=Ex\\1B[31mample", "O"),
                               ("CN=x,OU=a\\0Ab", "OU"), ("CN=a\\C2\\85b", "CN"),
                               ("CN=a\\7F", "CN")):
        message = refusal("CreateRequest", "aysa{sv}", 1, 1, subject, *options(pin=PIN))
        assert f"The value of '{attribute}' contains a control character" in message, message
    # Raw, the subject is not printable text at all.
    message = refusal("CreateRequest", "aysa{sv}", 1, 1, "CN=a\x07b", *options(pin=PIN))
    assert "subject" in message and "printable" in message, message
    assert len(env.audit_records()) == records


def ten_thousand_dns_or_email_entries_are_refused_at_once():
    for name, entry, limit in (("dns", "host.example.org", 32), ("email", "a@example.org", 8)):
        start = time.monotonic()
        message = refusal("CreateRequest", "aysa{sv}", 1, 1, "CN=x",
                          *options(pin=PIN, **{name: [entry] * 10000}))
        took = time.monotonic() - start
        print(f"# {name} x 10000: refused in {took * 1000:.0f} ms, busctl included")
        assert f'Option "{name}" takes at most {limit} entries' in message, message
        assert took < 2, took
    # At the limit the list is taken (the request then fails for want of a key with id 01).
    message = refusal("CreateRequest", "aysa{sv}", 1, 1, "CN=x",
                      *options(pin=PIN, dns=[f"h{i}.example.org" for i in range(32)]))
    assert "dns" not in message, message


def refusal_lines():
    return [line for line in env.log().splitlines() if "before authorisation" in line]


def each_refusal_is_one_log_line_naming_the_rule_never_the_secret():
    """Not in the audit trail, but in the log: operation, caller, the rule, never the value."""
    before = len(refusal_lines())
    refusal("ChangePin", "sa{sv}", "user", *options(pin=b"9146\n27", new_pin=b"470815"))
    lines = refusal_lines()[before:]
    assert len(lines) == 1, lines
    line = lines[0]
    assert re.search(r'Refused ChangePin from uid 0 \(pid \d+\) before authorisation: '
                     r'Option "pin" must be UTF-8 text without control characters', line), line
    assert "9146" not in line and "470815" not in line, line
    # A quoted name cannot forge a line: its control characters come escaped.
    refusal("ListObjects", "a{sv}", *options(**{"bogus\nRefused forged": "x"}))
    line = refusal_lines()[-1]
    assert 'Unknown option "bogus\\x0aRefused forged"' in line, line


def a_flood_of_refused_calls_gives_a_bounded_number_of_lines():
    time.sleep(10)  # a window of its own
    before = len(refusal_lines())
    # 1000 calls with a BEL for a PIN, 50 at a time.
    argv = ["busctl", f"--address={env.address}", "call", BUS_NAME, path, TOKEN, "ChangePin",
            "sa{sv}", "user", "1", "pin", "ay", "1", "7"]
    start = time.monotonic()
    for _ in range(20):
        procs = [subprocess.Popen(argv, env=env.env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL) for _ in range(50)]
        for p in procs:
            assert p.wait(60) != 0
    took = time.monotonic() - start
    lines = refusal_lines()[before:]
    print(f"# 1000 refused calls in {took:.1f} s: {len(lines)} log lines")
    windows = int(took / 10) + 1
    assert 10 <= len(lines) <= 10 * windows, len(lines)
    # After the window, the next refusal comes with the count of those left out.
    time.sleep(10.5)
    refusal("ChangePin", "sa{sv}", "user", *options(pin=b"\x07", new_pin=b"470815"))
    log = env.log()
    left_out = [int(n) for n in re.findall(r"(\d+) more calls of uid 0 were refused in 10 s "
                                           r"and not logged", log)]
    assert left_out and sum(left_out) + len(lines) >= 1000, (left_out, len(lines))
    assert len(refusal_lines()) == before + len(lines) + 1


def every_method_says_its_own_limit():
    """Without --worker-timeout, the operation table's limits, as clients read them."""
    timeouts = env.get("/org/tokend/Tokend1", "org.tokend.Tokend1.Manager", "OperationTimeouts")
    assert timeouts == {"ListObjects": 60, "GenerateKeyPair": 600, "CreateRequest": 120,
                        "ImportCertificate": 300, "ChangePin": 60, "UnblockPin": 60,
                        "Initialize": 600, "DeleteObject": 120}, timeouts


try:
    # The log line first: the refusals of the other tests would use up its window's lines.
    rc = Tap([each_refusal_is_one_log_line_naming_the_rule_never_the_secret,
              every_method_says_its_own_limit, labels_with_esc_bel_or_newline_are_refused_at_key_generation,
              a_token_label_with_a_control_character_is_refused_at_initialisation,
              pins_with_control_characters_or_not_utf8_are_refused_by_option_never_shown,
              a_subject_with_a_control_character_is_refused_before_polkit,
              ten_thousand_dns_or_email_entries_are_refused_at_once,
              a_flood_of_refused_calls_gives_a_bounded_number_of_lines]).run()
finally:
    env.close()
sys.exit(1 if env.failed_shutdown else rc)
