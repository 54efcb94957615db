#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every verb's --json output, real, against its schema in docs/tokenctl-json: tokenctl
driving tokend on a private bus with SoftHSM2 tokens and two empty PC/SC readers, successes,
failures of each exit status the tokens can give, and usage errors. The schemas forbid keys
they do not name, so an undocumented key fails here as a missing one does."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from tap import Tap
from tokend_env import SO_PIN, SOFTHSM_MODULE, USER_PIN, Env, JsonLines, need
from tokenctl_json import TokenctlJson

TOKENCTL = os.environ["TOKENCTL"]
OPENSC = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"
VPCD = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
VERBS = ["list", "status", "objects", "keygen", "csr", "import-cert", "change-pin", "unblock",
         "init", "delete", "monitor", "audit", "provision"]
NOBODY = "65534"

need("dbus-daemon", "softhsm2-util", "openssl", "setpriv", "pcscd", "unshare", SOFTHSM_MODULE,
     OPENSC, VPCD)

# SoftHSM2 tokens for the keys and PINs; OpenSC on a private pcscd for the readers.
env = Env(labels=("js-a", "js-b"), modules=[SOFTHSM_MODULE, OPENSC], pcscd=True)
os.chmod(env.dir, 0o755)  # for the caller that is not authorised
js = TokenctlJson(TOKENCTL, env)
schemas, validate, refused, tj = js.schemas, js.validate, js.refused, js.run
state = {"pin": USER_PIN}


def pin():
    return state["pin"] + "\n"


def serial_of(label):
    return next(t["serial"] for t in tj("list", "list")["tokens"] if t["label"] == label)


def openssl(*args):
    p = subprocess.run(["openssl", *args], capture_output=True, text=True, cwd=env.dir)
    assert p.returncode == 0, f"openssl {args}: {p.stderr}"


def schema_files_are_valid_and_share_their_definitions():
    want = {"list", "status", "objects", "keygen", "csr", "import-cert", "change-pin", "unblock",
            "init", "delete", "monitor", "audit-verify", "audit-list", "provision", "error"}
    assert set(schemas) == want, set(schemas) ^ want
    # Copies of one definition in several files are kept identical, so that every file is
    # whole on its own and none drifts from the others.
    seen = {}
    for name, schema in schemas.items():
        assert schema["$comment"].startswith("SPDX-License-Identifier: "), name
        for key, definition in schema["$defs"].items():
            if key in ("result",):
                continue
            if key in seen:
                assert definition == seen[key][1], f"$defs/{key}: {name} and {seen[key][0]} differ"
            else:
                seen[key] = (name, definition)


def list_has_tokens_and_readers():
    doc = tj("list", "list")
    assert sorted(t["label"] for t in doc["tokens"]) == ["js-a", "js-b"], doc
    assert all(t["reader"] is None for t in doc["tokens"]), doc  # SoftHSM2: no reader
    env.wait_for(lambda: len(tj("list", "list")["readers"]) == 2, 10, "two readers")
    for r in tj("list", "list")["readers"]:
        assert r["atr"] is None and r["token"] is None and not r["card-present"], r


def status_of_a_token_and_of_none():
    doc = tj("status", "status", "js-a")
    assert doc["certificates"] == [] and doc["certificates-error"] is None, doc
    err = tj("status", "status", expect=2)["error"]  # two tokens: which one?
    assert err["name"] == "org.tokend.tokenctl.Error.AmbiguousToken", err
    err = tj("status", "status", "no-such-token", expect=4)["error"]
    assert err["name"] == "org.tokend.tokenctl.Error.NoSuchToken", err


def keygen_rsa_and_ec_and_its_failures():
    doc = tj("keygen", "keygen", "js-a", "--type", "ec-p256", "--id", "0A:0B", "--label", "ec",
             "--pin-file", "-", stdin=pin())
    assert doc["id"] == "0a0b" and doc["type"] == "ec-p256", doc
    doc = tj("keygen", "keygen", "js-a", "--type", "rsa2048", "--id", "0c0d", "--label", "rsa",
             "--pin-file", "-", stdin=pin())
    assert doc["id"] == "0c0d", doc
    err = tj("keygen", "keygen", "js-b", "--type", "ec-p256", "--pin-file", "-",
             stdin="999999\n", expect=5)["error"]
    assert err["name"] == "org.tokend.Tokend1.Error.PinIncorrect", err
    err = tj("keygen", "keygen", "js-a", "--type", "ec-p256", expect=2)["error"]
    assert err["name"] == "org.tokend.tokenctl.Error.NoPin", err
    err = tj("keygen", "keygen", "js-a", "--type", "ec-p256", "--pin-file", "-",
             stdin=pin(), expect=3, as_user=NOBODY)["error"]
    assert err["name"].startswith("org.freedesktop.DBus.Error."), err


def objects_say_null_where_a_key_has_nothing():
    public = tj("objects", "objects", "js-a")["objects"]
    assert {o["class"] for o in public} == {"public-key"}, public
    full = tj("objects", "objects", "js-a", "--login", "--pin-file", "-", stdin=pin())["objects"]
    rsa = next(o for o in full if o["id"] == "0c0d" and o["class"] == "private-key")
    ec = next(o for o in full if o["id"] == "0a0b" and o["class"] == "private-key")
    assert rsa["key-type"] == "rsa" and rsa["bits"] == 2048 and rsa["curve"] is None, rsa
    assert ec["key-type"] == "ec" and ec["curve"] == "P-256", ec
    assert all(o[k] is None for o in full for k in ("subject", "serial", "days-left")), full
    tj("objects", "objects", "js-a", "--login", "--pin-file", "-", stdin="999999\n", expect=5)


def csr_to_standard_output_and_to_a_file():
    doc = tj("csr", "csr", "js-a", "--key", "0A0B", "--subject", "CN=Jane Doe,O=Agency,C=NL",
             "--email", "jane@agency.example", "--pin-file", "-", stdin=pin())
    assert doc["key"] == "0a0b" and doc["file"] is None, doc
    out = os.path.join(env.dir, "req.pem")
    doc = tj("csr", "csr", "js-a", "--key", "0a0b", "--subject", "CN=Jane Doe", "-o", out,
             "--pin-file", "-", stdin=pin())
    assert doc["file"] == out, doc
    err = tj("csr", "csr", "js-a", "--key", "7777", "--subject", "CN=x", "--pin-file", "-",
             stdin=pin(), expect=1)["error"]
    assert err["name"].startswith("org.tokend.Tokend1.Error."), err


def import_cert_and_a_lower_case_serial():
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=Schema CA", "-days", "3650")
    # A serial with hex letters, which OpenSSL writes in upper case.
    openssl("x509", "-req", "-in", "req.pem", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-set_serial", "0xABCDEF0123", "-out", "holder.pem", "-days", "20")
    doc = tj("import-cert", "import-cert", "js-a", os.path.join(env.dir, "holder.pem"),
             "--chain", os.path.join(env.dir, "ca.pem"), "--pin-file", "-", stdin=pin())
    assert doc["id"] == "0a0b" and doc["chain-certificates"] == 1, doc
    err = tj("import-cert", "import-cert", "js-a", os.path.join(env.dir, "holder.pem"),
             "--pin-file", "-", stdin=pin(), expect=1)["error"]
    assert err["name"] == "org.tokend.Tokend1.Error.Duplicate", err
    tj("import-cert", "import-cert", "js-a", os.path.join(env.dir, "none.pem"), "--pin-file",
       "-", stdin=pin(), expect=1)
    status = tj("status", "status", "js-a")
    certs = status["certificates"]
    holder = next(c for c in certs if c["subject"] == "CN=Jane Doe")
    assert holder["serial"] == "abcdef0123", holder
    assert holder["expired"] is False and holder["days-left"] in (19, 20), holder
    # The holder's certificate apart from the CA's, and 20 days from expiry it is due.
    assert holder["ca"] is False and holder["expires-soon"] is True, holder
    assert [c["subject"] for c in status["ca-certificates"]] == ["CN=Schema CA"], status
    assert status["ca-certificates"][0]["ca"] is True, status
    assert status["expiry-warn-days"] == 30, status
    # An explicit threshold is a check for scripts: exit status 9 when one is due.
    later = tj("status", "status", "js-a", "--expiry-warn", "10")
    assert later["certificates"][0]["expires-soon"] is False, later
    assert later["expiry-warn-days"] == 10, later
    tj("status", "status", "js-a", "--expiry-warn", "60", expect=9)
    tj("objects", "objects", "js-a", "--expiry-warn", "60", expect=9)
    tj("status", "status", "js-a", "--expiry-warn", "-3", expect=2)
    objects = tj("objects", "objects", "js-a")["objects"]
    assert any(o["class"] == "certificate" and o["serial"] == "abcdef0123" for o in objects)


def change_pin_and_its_refusal():
    doc = tj("change-pin", "change-pin", "js-a", "--pin-file", "-", "--new-pin-file", "-",
             stdin=pin() + "582914\n")
    assert doc["done"] == "change-pin", doc
    state["pin"] = "582914"
    err = tj("change-pin", "change-pin", "js-a", "--pin-file", "-", "--new-pin-file", "-",
             stdin=pin() + "111111\n", expect=7)["error"]
    assert err["name"] == "org.tokend.Tokend1.Error.PinPolicy", err
    doc = tj("change-pin", "change-pin", "js-b", "--so", "--so-pin-file", "-", "--new-pin-file",
             "-", stdin=SO_PIN + "\n" + SO_PIN + "-2\n")
    assert doc["done"] == "change-so-pin", doc
    # SoftHSM2 has no PUK apart from its SO PIN: --puk points at --so.
    err = tj("change-pin", "change-pin", "js-b", "--puk", expect=2)["error"]
    assert "--so" in err["message"], err


def unblock_with_and_without_a_reference():
    err = tj("unblock", "unblock", "js-b", "--so-pin-file", "-", "--new-pin-file", "-",
             stdin=SO_PIN + "-2\n715926\n", expect=2)["error"]
    assert "reference" in err["message"], err
    doc = tj("unblock", "unblock", "js-b", "--request", "UNLOCK-2026-0002", "--so-pin-file",
             "-", "--new-pin-file", "-", stdin=SO_PIN + "-2\n715926\n")
    assert doc["done"] == "unblock", doc


def delete_a_certificate_and_what_is_not_there():
    doc = tj("delete", "delete", "js-a", "--yes", "--cert", "0A0B", "--pin-file", "-", stdin=pin())
    assert doc == {"token": serial_of("js-a"), "deleted": "certificate", "id": "0a0b"}, doc
    doc = tj("delete", "delete", "js-a", "--yes", "--key", "0c0d", "--pin-file", "-", stdin=pin())
    assert doc["deleted"] == "key", doc
    tj("delete", "delete", "js-a", "--yes", "--key", "0c0d", "--pin-file", "-", stdin=pin(), expect=1)


def monitor_lines_fit_the_schema():
    serial_a = serial_of("js-a")
    mon = subprocess.Popen([TOKENCTL, "--json", "monitor"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env.env, start_new_session=True)
    lines = JsonLines(mon.stdout)
    events = lines.events
    try:
        time.sleep(0.5)  # subscribed before anything happens
        tj("keygen", "keygen", "js-a", "--type", "ec-p256", "--pin-file", "-", stdin=pin())
        env.init_token("js-c")
        lines.read(lambda: events("Progress") and events("TokenAdded"))
        added = events("TokenAdded")[0]
        serial = added["serial"]
        assert serial and serial == serial_of("js-c"), added
        subprocess.run(["softhsm2-util", "--delete-token", "--serial", serial], env=env.env,
                       check=True, stdout=subprocess.DEVNULL)
        lines.read(lambda: events("TokenRemoved"))
        removed = events("TokenRemoved")[0]
        # named by what it was: the token can no longer be asked
        assert removed["serial"] == serial and removed["token"] == added["token"], removed
        # tokend leaving the bus ends the stream with the error document, a line too
        env.tokend.send_signal(signal.SIGTERM)
        env.tokend.wait(10)
        assert mon.wait(10) == 1, mon.returncode
        lines.read(lambda: False, timeout=1)
        assert mon.stderr.read() == b""
    finally:
        if mon.poll() is None:
            mon.kill()
            mon.wait()
    docs = lines.docs
    for doc in docs:
        validate("monitor", doc)
    assert docs[-1]["error"]["exit-code"] == 1, docs[-1]
    progress = events("Progress")
    assert progress[0]["serial"] == serial_a and progress[0]["reader"] is None, progress
    assert {e["event"] for e in docs[:-1]} >= {"Progress", "TokenAdded", "TokenRemoved",
                                               "PropertiesChanged"}, docs
    js.checked.update({("monitor", "result"), ("monitor", "error")})


def init_and_audit_verify():
    doc = tj("init", "init", "js-b", "--yes", "--label", "fresh", "--so-pin-file", "-",
             "--new-pin-file", "-", stdin=SO_PIN + "-2\n" + USER_PIN + "\n")
    assert doc["done"] == "init", doc
    env.wait_for(lambda: "fresh" in [t["label"] for t in tj("list", "list")["tokens"]], 10,
                 "the new label")
    err = tj("init", "init", "fresh", "--yes", "--label", "again", "--so-pin-file", "-", "--new-pin-file",
             "-", stdin=SO_PIN + "-wrong\n" + USER_PIN + "\n", expect=5)["error"]
    assert err["name"] == "org.tokend.Tokend1.Error.PinIncorrect", err
    path = os.path.join(env.dir, "audit.jsonl")
    doc = tj("audit-verify", "audit", "verify", path)
    assert doc["intact"] and doc["lines"] > 5 and doc["partial-line-offset"] is None, doc
    with tempfile.TemporaryDirectory() as d:
        with open(path) as f:
            lines = f.readlines()
        cut = os.path.join(d, "cut.jsonl")
        with open(cut, "w") as f:
            f.writelines(lines)
            f.write('{"partial')
        doc = tj("audit-verify", "audit", "verify", cut)
        assert doc["interrupted"] and isinstance(doc["partial-line-offset"], int), doc
        edited = os.path.join(d, "edited.jsonl")
        with open(edited, "w") as f:
            f.writelines(lines[:1] + lines[2:])
        tj("audit-verify", "audit", "verify", edited, expect=8)
        tj("audit-verify", "audit", "verify", os.path.join(d, "none.jsonl"), expect=1)
        tj("audit-list", "audit", "list", edited, expect=8)
        tj("audit-list", "audit", "list", os.path.join(d, "none.jsonl"), expect=1)
    acts = tj("audit-list", "audit", "list", path)
    assert {a["operation"] for a in acts} >= {"initialize"}, acts
    assert all("station" not in a for a in acts), acts
    # tokend's next act seals a cut-off line: the interruption is listed where it is.
    offset = os.path.getsize(path)
    with open(path, "a") as f:
        f.write('{"partial')
    tj("init", "init", "fresh", "--yes", "--label", "again", "--so-pin-file", "-", "--new-pin-file",
       "-", stdin=SO_PIN + "-wrong\n" + USER_PIN + "\n", expect=5)
    doc = tj("audit-verify", "audit", "verify", path)
    assert not doc["interrupted"] and doc["interruption-count"] == 1, doc
    assert doc["interruptions"] == [{"line": len(lines) + 1, "offset": offset, "length": 9,
                                     "sealed": True}], doc


def provision_and_import_on_a_named_token():
    serial = serial_of("fresh")
    manifest = os.path.join(env.dir, "provision.ini")
    with open(manifest, "w") as f:
        f.write("[Token]\nLabel=prov {serial}\n[Key]\nType=ec-p256\n[Request]\n"
                "Subject=CN=Prov {serial},O={request}\nOutput=provisioned\n")
    doc = tj("provision", "provision", manifest, serial, "--yes", "--request", "R-1",
             "--so-pin-file", "-", "--new-pin-file", "-", stdin=SO_PIN + "-2\n" + USER_PIN + "\n")
    assert (doc["done"], doc["failed"], doc["request"]) == (1, 0, "R-1"), doc
    token = doc["tokens"][0]
    assert token["label"] == f"prov {serial}" and token["step"] is None, token
    issued = os.path.join(env.dir, "issued")
    os.makedirs(issued)
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "prov-ca.key", "-out", "prov-ca.pem", "-subj", "/CN=Prov CA", "-days", "9")
    openssl("x509", "-req", "-in", token["request-file"], "-CA", "prov-ca.pem", "-CAkey",
            "prov-ca.key", "-CAcreateserial", "-days", "9", "-out", "issued/holder.pem")
    doc = tj("provision", "provision", "--import", issued, serial, "--pin-file", "-",
             stdin=USER_PIN + "\n")
    assert (doc["done"], doc["failed"], doc["none"], doc["unmatched-files"]) == (1, 0, 0, []), doc
    assert doc["tokens"][0]["chain-certificates"] == 0, doc


def usage_errors_of_every_verb_fit_its_schema():
    for verb in VERBS:
        schema = "audit-verify" if verb == "audit" else verb
        for args in ([verb, "--bogus"], ["--bogus", verb], [verb, "--pin-file"],
                     [verb, "extra", "words", "--so"]):
            err = tj(schema, *args, expect=2)["error"]
            assert err["name"] == "org.tokend.tokenctl.Error.Usage", (args, err)
    for args in (["frobnicate"], [], ["--json=loud", "list"]):
        err = tj("error", *args, expect=2)["error"]
        assert err["name"] == "org.tokend.tokenctl.Error.Usage", (args, err)


def schemas_refuse_an_extra_key_a_missing_key_and_a_wrong_null():
    """The schemas hold: real results changed in one place each no longer fit."""
    for name, result in js.results.items():
        # A list (audit list) is held to its schema by its items.
        listed = isinstance(result, list)
        doc = result[0] if listed else result

        def wrap(d, listed=listed):
            return [d] if listed else d
        extra = json.loads(json.dumps(doc))
        extra["undocumented"] = 1
        assert refused(name, wrap(extra)), name
        for key in doc:
            missing = json.loads(json.dumps(doc))
            del missing[key]
            assert refused(name, wrap(missing)), (name, key)
    token = json.loads(json.dumps(js.results["list"]))
    token["tokens"][0]["user-pin"]["hint"] = "x"
    assert refused("list", token)
    del token["tokens"][0]["user-pin"]["hint"]
    del token["tokens"][0]["reader"]
    assert refused("list", token)
    objects = json.loads(json.dumps(js.results["objects"]))
    cert = next(o for o in objects["objects"] if o["class"] == "certificate")
    key = next(o for o in objects["objects"] if o["class"] != "certificate")
    for o, k, v in ((cert, "serial", "ABCDEF0123"), (cert, "subject", None),
                    (key, "subject", "CN=x"), (key, "curve", "P-256" if key["key-type"] == "rsa"
                                               else 1), (key, "id", "0A0B")):
        changed = json.loads(json.dumps(objects))
        target = changed["objects"][objects["objects"].index(o)]
        target[k] = v
        assert refused("objects", changed), (k, v)
    assert refused("monitor", {"time": "2026-11-25T12:00:00Z", "event": "TokenAdded",
                               "token": "/org/tokend/Tokend1/token/_31", "serial": "1",
                               "reader": None})
    assert refused("error", {"error": {"name": "org.x.Y", "message": "m"}})


def every_schema_was_met_as_result_and_as_error():
    want = {(name, kind) for name in schemas if name != "error" for kind in ("result", "error")}
    assert want <= js.checked, sorted(want - js.checked)


try:
    rc = Tap([schema_files_are_valid_and_share_their_definitions, list_has_tokens_and_readers,
              status_of_a_token_and_of_none, keygen_rsa_and_ec_and_its_failures,
              objects_say_null_where_a_key_has_nothing, csr_to_standard_output_and_to_a_file,
              import_cert_and_a_lower_case_serial, change_pin_and_its_refusal,
              unblock_with_and_without_a_reference, delete_a_certificate_and_what_is_not_there,
              init_and_audit_verify, provision_and_import_on_a_named_token,
              usage_errors_of_every_verb_fit_its_schema,
              monitor_lines_fit_the_schema,
              schemas_refuse_an_extra_key_a_missing_key_and_a_wrong_null,
              every_schema_was_met_as_result_and_as_error]).run()
finally:
    env.close()
sys.exit(rc)
