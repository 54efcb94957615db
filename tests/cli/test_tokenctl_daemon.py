#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every tokenctl verb through the real tokend on a private bus with SoftHSM2 tokens, in human
and --json form, with the exit code of each failure class. Reuses the daemon tests' harness."""

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time

from tap import Tap
from tokend_env import (SO_PIN, SOFTHSM_MODULE, USER_PIN, Env, JsonLines, exec_as, need,
                        run_on_pty)

TOKENCTL = os.environ["TOKENCTL"]
# Under "meson test --setup=valgrind" every tokenctl run goes through valgrind; an error or a
# definite leak turns into exit status 99, which no test expects.
VALGRIND = (["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
             "--errors-for-leak-kinds=definite", "--show-leak-kinds=definite"]
            if os.environ.get("TOKEND_UNDER_VALGRIND") else [])

need("dbus-daemon", "softhsm2-util", "openssl", "setpriv", SOFTHSM_MODULE)

env = Env(labels=("cli-a", "cli-b"))
# Let an unprivileged caller reach the private bus, for the authorisation test.
os.chmod(env.dir, 0o755)
state = {"pin": USER_PIN}


def tokenctl(*args, stdin=None, expect=0, as_user=None):
    cmd = [*VALGRIND, TOKENCTL, *args]
    cwd = None
    if as_user:
        # From a copy that the user can reach wherever the build tree is.
        cmd = ["setpriv", f"--reuid={as_user}", f"--regid={as_user}", "--clear-groups",
               *VALGRIND, env.copy_for_other_users(TOKENCTL), *args]
        cwd = env.other_users_dir()
    # A new session has no controlling terminal: tokenctl must never wait for one.
    p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=env.env,
                       timeout=120, start_new_session=True, cwd=cwd)
    assert p.returncode == expect, (f"tokenctl {' '.join(args)}: exit {p.returncode}, "
                                    f"wanted {expect}\n{p.stdout}\n{p.stderr}")
    return p


def tj(*args, stdin=None, expect=0, as_user=None):
    p = tokenctl("--json", *args, stdin=stdin, expect=expect, as_user=as_user)
    doc = json.loads(p.stdout)
    if expect != 0:
        assert set(doc) == {"error"}, doc
        assert doc["error"]["exit-code"] == expect, doc
    return doc


def serial_of(label):
    for t in tj("list")["tokens"]:
        if t["label"] == label:
            return t["serial"]
    raise AssertionError(f"no token {label}")


def pin():
    return state["pin"] + "\n"


def list_shows_both_tokens():
    p = tokenctl("list")
    lines = p.stdout.splitlines()
    assert re.match(r"SERIAL +LABEL +MODEL +READER +USER PIN$", lines[0]), lines[0]
    assert len(lines) == 3 and all("SoftHSM v2" in l for l in lines[1:]), p.stdout
    doc = tj("list")
    assert sorted(t["label"] for t in doc["tokens"]) == ["cli-a", "cli-b"], doc
    t = doc["tokens"][0]
    assert t["user-pin"]["state"] == "ok" and isinstance(t["user-pin"]["retries"], int), t
    assert t["module"] == SOFTHSM_MODULE and t["path"].startswith("/org/tokend/Tokend1/token/")
    assert isinstance(doc["readers"], list)


def token_names_resolve_or_fail_clearly():
    a = serial_of("cli-a")
    doc = tj("status", "--", "cli-a")
    assert doc["token"]["serial"] == a
    assert tj("status", a)["token"]["label"] == "cli-a"
    assert tj("status", doc["token"]["path"])["token"]["serial"] == a
    err = tj("status", expect=2)["error"]
    assert err["name"] == "org.tokend.tokenctl.Error.AmbiguousToken", err
    assert "cli-a" in err["message"] and "cli-b" in err["message"], err
    p = tokenctl("status", "no-such-token", expect=4)
    assert "cli-a" in p.stderr and "cli-b" in p.stderr, p.stderr
    assert tj("objects", "no-such-token", expect=4)["error"]["name"].endswith("NoSuchToken")


def status_shows_pin_state_in_words():
    p = tokenctl("status", "cli-a")
    assert re.search(r"User PIN: ok", p.stdout), p.stdout
    assert re.search(r"Certificates: none", p.stdout), p.stdout
    assert "\033[" not in p.stdout  # not a terminal: no colour


def keygen_human_and_json():
    p = tokenctl("keygen", "cli-a", "--type", "ec-p256", "--label", "holder",
                 "--pin-file", "-", stdin=pin())
    assert p.stdout.startswith("-----BEGIN PUBLIC KEY-----"), p.stdout
    m = re.search(r"id ([0-9a-f]+)\.", p.stderr)
    assert m, p.stderr
    state["key1"] = m.group(1)
    doc = tj("keygen", "cli-a", "--type", "ec-p256", "--id", "0a0b", "--pin-file", "-",
             stdin=pin())
    assert doc["id"] == "0a0b" and doc["type"] == "ec-p256", doc
    assert doc["public-key"].startswith("-----BEGIN PUBLIC KEY-----")
    tokenctl("keygen", "cli-a", "--type", "ec-p256", "--id", "zz", expect=2)


def progress_only_on_a_terminal():
    """A person on a terminal sees one progress line that is rewritten and then cleared; a
    script's log (standard error not a terminal) gets none."""
    p = tokenctl("keygen", "cli-a", "--type", "ec-p256", "--label", "log", "--pin-file", "-",
                 stdin=pin())
    assert p.stderr.startswith("Generated an ec-p256 key pair"), p.stderr
    assert "generate-key" not in p.stderr and "\r" not in p.stderr, p.stderr
    pin_file = os.path.join(env.dir, "pin")
    with open(pin_file, "w") as f:
        f.write(pin())
    code, out = run_on_pty([TOKENCTL, "keygen", "cli-a", "--type", "rsa2048", "--label", "tty",
                            "--pin-file", pin_file], env.env)
    assert code == 0, out
    lines = re.findall(rb"\r\x1b\[K([-\\|/]) generate-key: (started|running|done) \((\d+) s"
                       rb" of at most 600 s\)", out)
    assert lines, out
    done = out.index(b"Generated an rsa2048 key pair")
    # cleared before the answer is printed, and not left behind
    assert out.rindex(b"generate-key: ") < out.rindex(b"\r\x1b[K", 0, done) < done, out
    assert b"\n" not in out[out.index(b"generate-key: "):out.rindex(b"\r\x1b[K", 0, done)], out


def objects_public_and_with_login():
    public = tj("objects", "cli-a")["objects"]
    assert {o["class"] for o in public} == {"public-key"}, public
    full = tj("objects", "cli-a", "--login", "--pin-file", "-", stdin=pin())["objects"]
    ids = {(o["class"], o["id"]) for o in full}
    assert ("private-key", "0a0b") in ids and ("private-key", state["key1"]) in ids, ids
    k = next(o for o in full if o["id"] == "0a0b" and o["class"] == "private-key")
    assert k["key-type"] == "ec" and k["curve"], k
    p = tokenctl("objects", "cli-a")
    assert re.match(r"CLASS +ID +LABEL +DETAILS +EXPIRY", p.stdout), p.stdout
    assert "holder" in p.stdout and "0a0b" in p.stdout, p.stdout


def csr_to_file_verifies_with_openssl():
    out = os.path.join(env.dir, "req.pem")
    p = tokenctl("csr", "cli-a", "--key", "0a0b", "--subject", "CN=Jane Doe,O=Agency,C=NL",
                 "--email", "jane@agency.example", "--dns", "jane.agency.example",
                 "-o", out, "--pin-file", "-", stdin=pin())
    assert out in p.stderr and p.stdout == "", (p.stdout, p.stderr)
    v = subprocess.run(["openssl", "req", "-in", out, "-verify", "-noout", "-subject", "-text"],
                       capture_output=True, text=True)
    assert v.returncode == 0 and "verify OK" in v.stdout + v.stderr, v.stdout + v.stderr
    assert "CN = Jane Doe" in v.stdout and "jane@agency.example" in v.stdout, v.stdout
    doc = tj("csr", "cli-a", "--key", "0a0b", "--subject", "CN=Jane Doe", "--pin-file", "-",
             stdin=pin())
    assert doc["request"].startswith("-----BEGIN CERTIFICATE REQUEST-----") and doc["file"] is None


def run(*args):
    p = subprocess.run(args, capture_output=True, text=True, cwd=env.dir)
    assert p.returncode == 0, f"{args}: {p.stderr}"


def import_cert_with_chain_and_expiry_shown():
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=Test CA", "-days", "3650")
    run("openssl", "x509", "-req", "-in", "req.pem", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "holder.pem", "-days", "96")
    bundle = os.path.join(env.dir, "bundle.pem")
    with open(bundle, "w") as f:
        f.write(open(os.path.join(env.dir, "holder.pem")).read())
        f.write(open(os.path.join(env.dir, "ca.pem")).read())
    doc = tj("import-cert", "cli-a", bundle, "--pin-file", "-", stdin=pin())
    assert doc["id"] == "0a0b" and doc["chain-certificates"] == 1, doc
    p = tokenctl("status", "cli-a")
    assert re.search(r"expires \d{4}-\d\d-\d\d, in 9[56] days$", p.stdout, re.M), p.stdout
    # The holder's certificate first, under its own heading; the CA's apart, after it.
    lines = p.stdout.splitlines()
    holder_at = next(i for i, l in enumerate(lines) if re.match(r" *Certificates: CN=Jane Doe", l))
    ca_at = next(i for i, l in enumerate(lines) if re.match(r" *CA certificates: CN=Test CA", l))
    assert holder_at < ca_at, p.stdout
    assert "renew soon" not in p.stdout, p.stdout
    # Within the threshold: the same warning in status and objects, and exit status 9.
    p = tokenctl("status", "cli-a", "--expiry-warn", "100", expect=9)
    assert re.search(r"in 9[56] days — renew soon$", p.stdout, re.M), p.stdout
    p = tokenctl("objects", "cli-a", "--expiry-warn", "100", expect=9)
    assert re.search(r"in 9[56] days — renew soon$", p.stdout, re.M), p.stdout
    assert re.search(r"^CA certificate ", p.stdout, re.M), p.stdout
    assert tokenctl("objects", "cli-a").stdout == tokenctl("objects", "cli-a").stdout
    certs = tj("status", "cli-a")["certificates"]
    holder = next(c for c in certs if "Jane Doe" in c["subject"])
    assert holder["expired"] is False and holder["days-left"] in (95, 96), holder
    err = tj("import-cert", "cli-a", os.path.join(env.dir, "holder.pem"), "--pin-file", "-",
             stdin=pin(), expect=1)["error"]
    assert err["name"] == "org.tokend.Tokend1.Error.Duplicate", err
    assert err["message"].startswith("Importing the certificate failed: "), err


def wrong_pin_exits_5():
    err = tj("keygen", "cli-b", "--type", "ec-p256", "--pin-file", "-", stdin="999999\n",
             expect=5)["error"]
    assert err["name"] == "org.tokend.Tokend1.Error.PinIncorrect", err
    p = tokenctl("delete", "cli-b", "--yes", "--key", "01", "--pin-file", "-", stdin="999999\n",
                 expect=5)
    assert p.stderr.splitlines()[-1].startswith("tokenctl: Deleting failed: "), p.stderr


def no_pin_and_no_terminal_fails_at_once():
    err = tj("keygen", "cli-a", "--type", "ec-p256", expect=2)["error"]
    assert err["name"] == "org.tokend.tokenctl.Error.NoPin" and "--pin-file" in err["message"]
    tokenctl("--no-ask-password", "change-pin", "cli-a", expect=2)


def change_pin_on_a_terminal_without_echo():
    pid, fd = pty.fork()
    if pid == 0:
        exec_as([TOKENCTL, "--no-ask-password", "change-pin", "cli-b"], env.env)
    out, pos = b"", 0

    def expect(text):
        nonlocal out, pos
        end = time.monotonic() + 20
        while text not in out[pos:]:
            assert time.monotonic() < end, f"no {text!r} in {out!r}"
            r, _, _ = select.select([fd], [], [], 0.5)
            if r:
                try:
                    chunk = os.read(fd, 1024)
                except OSError:
                    chunk = b""
                assert chunk, f"EOF before {text!r} in {out!r}"
                out += chunk
        pos = out.index(text, pos) + len(text)

    try:
        # --no-ask-password would refuse to prompt; without it the prompts must appear.
        expect(b"A PIN is needed")
        os.waitpid(pid, 0)
    finally:
        os.close(fd)
    pid, fd = pty.fork()
    if pid == 0:
        exec_as([TOKENCTL, "change-pin", "cli-b"], env.env)
    out, pos = b"", 0
    try:
        expect(b"Current user PIN: ")
        os.write(fd, b"715926\n")
        expect(b"New user PIN: ")
        os.write(fd, b"639172\n")
        expect(b"Repeat new user PIN: ")
        os.write(fd, b"639172\n")
        expect(b"change-pin: ")  # the progress line, from the token's Progress signals
        expect(b"PIN changed on token")
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, out
    finally:
        os.close(fd)
    assert b"715926" not in out and b"639172" not in out, out
    tj("objects", "cli-b", "--login", "--pin-file", "-", stdin="639172\n")


def colour_only_on_a_terminal_and_not_with_no_color():
    def on_pty(extra_env):
        code, out = run_on_pty([TOKENCTL, "--no-pager", "status", "cli-a"],
                               dict(env.env, **extra_env))
        assert code == 0, out
        return out

    assert b"\033[" in on_pty({}), "no colour on a terminal"
    assert b"\033[" not in on_pty({"NO_COLOR": "1"})


def long_output_goes_through_the_pager_on_a_terminal_only():
    paged = os.path.join(env.dir, "paged.txt")
    pager_env = dict(env.env, TERM="xterm", TOKENCTL_PAGER=f"cat > {paged}")

    def run(*args, environ=pager_env):
        if os.path.exists(paged):
            os.unlink(paged)
        code, out = run_on_pty([TOKENCTL, *args], environ)
        assert code == 0, out
        return out, open(paged).read() if os.path.exists(paged) else None

    for verb, mark in ((["list"], "cli-a"), (["status", "cli-a"], "cli-a"),
                       (["objects", "cli-a"], "public"), (["audit", "list", env.audit_file],
                                                          "generate-key")):
        out, text = run(*verb)
        assert text and mark in text and mark.encode() not in out, (verb, out, text)
        out, text = run("--no-pager", *verb)
        assert text is None and mark.encode() in out, (verb, out, text)
        if verb[0] != "audit":
            out, text = run("--json", *verb)
            assert text is None and mark.encode() in out, (verb, out, text)
    # A terminal less cannot drive, and output that is no terminal, are never paged.
    out, text = run("list", environ=dict(pager_env, TERM="dumb"))
    assert text is None and b"cli-a" in out, (out, text)
    p = subprocess.run([TOKENCTL, "list"], capture_output=True, text=True, env=pager_env)
    assert p.returncode == 0 and "cli-a" in p.stdout and not os.path.exists(paged), p


def no_legend_and_quiet():
    p = tokenctl("list", "--no-legend")
    lines = p.stdout.splitlines()
    assert len(lines) == 2 and "SERIAL" not in p.stdout and "cli-a" in p.stdout, p.stdout
    p = tokenctl("-q", "audit", "verify", env.audit_file)
    assert p.stdout == "" and p.stderr == "", p


def change_pin_and_policy_refusal():
    doc = tj("change-pin", "cli-a", "--pin-file", "-", "--new-pin-file", "-",
             stdin=pin() + "582914\n")
    assert doc["done"] == "change-pin", doc
    state["pin"] = "582914"
    err = tj("change-pin", "cli-a", "--pin-file", "-", "--new-pin-file", "-",
             stdin=pin() + "12\n", expect=7)["error"]
    assert err["name"] == "org.tokend.Tokend1.Error.PinPolicy", err
    p = tokenctl("change-pin", "cli-a", "--pin-file", "-", "--new-pin-file", "-",
                 stdin=pin() + "318274\n")
    assert "PIN changed on token" in p.stdout, p.stdout
    state["pin"] = "318274"


def unblock_with_request_and_so_pin():
    # A usage error, in tokenctl's words: the flag a person types, not the bus option.
    err = tj("unblock", "cli-b", "--so-pin-file", "-", "--new-pin-file", "-",
             stdin=SO_PIN + "\n715926\n", expect=2)["error"]
    assert "reference" in err["message"] and "--request" in err["message"], err
    assert 'option "request"' not in err["message"], err
    doc = tj("unblock", "cli-b", "--request", "UNLOCK-2026-0001", "--so-pin-file", "-",
             "--new-pin-file", "-", stdin=SO_PIN + "\n715926\n")
    assert doc["done"] == "unblock", doc
    tj("objects", "cli-b", "--login", "--pin-file", "-", stdin="715926\n")


def not_authorised_exits_3():
    err = tj("keygen", "cli-b", "--type", "ec-p256", "--pin-file", "-", stdin="639172\n",
             expect=3, as_user="65534")["error"]
    assert err["name"].startswith("org.freedesktop.DBus.Error."), err


def delete_certificate_then_key():
    doc = tj("delete", "cli-a", "--yes", "--cert", "0a0b", "--pin-file", "-", stdin=pin())
    assert doc == {"token": serial_of("cli-a"), "deleted": "certificate", "id": "0a0b"}, doc
    p = tokenctl("delete", "cli-a", "--yes", "--key", "0a0b", "--pin-file", "-", stdin=pin())
    assert "Deleted the key with id 0a0b" in p.stdout, p.stdout
    left = tj("objects", "cli-a", "--login", "--pin-file", "-", stdin=pin())["objects"]
    assert all(o["id"] != "0a0b" or o["class"] == "certificate" and "Test CA" in o["subject"]
               for o in left), left


def monitor_reports_progress_as_json_lines():
    mon = subprocess.Popen([TOKENCTL, "--json", "monitor"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env.env, start_new_session=True)
    try:
        time.sleep(0.5)  # let it subscribe before the operation starts
        tokenctl("keygen", "cli-a", "--type", "ec-p256", "--pin-file", "-", stdin=pin())
        env.init_token("cli-c")
        out = JsonLines(mon.stdout)
        out.read(lambda: out.events("Progress") and out.events("TokenAdded"))
        events = out.docs
        progress = [e for e in events if e["event"] == "Progress"]
        assert progress and progress[0]["operation"] == "generate-key", events
        assert progress[0]["token"].startswith("/org/tokend/Tokend1/token/")
        assert progress[0]["serial"] == serial_of("cli-a"), progress[0]
        added = [e for e in events if e["event"] == "TokenAdded"]
        assert added and added[0]["token"] == tj("status", "cli-c")["token"]["path"], events
        assert added[0]["serial"] == serial_of("cli-c"), added[0]
        for e in events:
            # SoftHSM2 tokens are in no reader
            assert e["reader"] is None, e
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", e["time"]), e
        times = [e["time"] for e in events]
        assert times == sorted(times), times
        assert any(e["event"] == "PropertiesChanged" and "Busy" in e["changed"]
                   for e in events), events
    finally:
        os.kill(mon.pid, signal.SIGTERM)
        mon.wait(10)


def init_destroys_and_relabels():
    doc = tj("init", "cli-a", "--yes", "--label", "fresh", "--so-pin-file", "-", "--new-pin-file", "-",
             stdin=SO_PIN + "\n" + USER_PIN + "\n")
    assert doc["done"] == "init", doc
    env.wait_for(lambda: "fresh" in [t["label"] for t in tj("list")["tokens"]], 10,
                 "the new label")
    assert tj("objects", "fresh", "--login", "--pin-file", "-", stdin=pin())["objects"] == []


def audit_trail_of_this_run_verifies():
    path = os.path.join(env.dir, "audit.jsonl")
    doc = tj("audit", "verify", path)
    assert doc["intact"] and doc["lines"] > 5, doc
    with open(path) as f:
        records = [json.loads(line) for line in f]
    assert any(r["request"] == "UNLOCK-2026-0001" for r in records), records
    assert doc["head"]["seq"] == records[-1]["seq"], (doc, records[-1])


def trivial_new_pin_refused_by_site_policy():
    err = tj("change-pin", "cli-a", "--pin-file", "-", "--new-pin-file", "-",
             stdin=pin() + "111111\n", expect=7)["error"]
    assert err["name"] == "org.tokend.Tokend1.Error.PinPolicy", err


tests = [list_shows_both_tokens, token_names_resolve_or_fail_clearly,
         status_shows_pin_state_in_words, keygen_human_and_json, progress_only_on_a_terminal,
         objects_public_and_with_login,
         csr_to_file_verifies_with_openssl, import_cert_with_chain_and_expiry_shown,
         wrong_pin_exits_5, no_pin_and_no_terminal_fails_at_once,
         change_pin_and_policy_refusal, unblock_with_request_and_so_pin,
         change_pin_on_a_terminal_without_echo, colour_only_on_a_terminal_and_not_with_no_color,
         long_output_goes_through_the_pager_on_a_terminal_only, no_legend_and_quiet,
         not_authorised_exits_3,
         delete_certificate_then_key, monitor_reports_progress_as_json_lines,
         trivial_new_pin_refused_by_site_policy, init_destroys_and_relabels,
         audit_trail_of_this_run_verifies]

try:
    rc = Tap(tests).run()
finally:
    env.close()
sys.exit(rc)
