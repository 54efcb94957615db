#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What a person at a terminal sees from tokenctl before typing a PIN, against tokend on SoftHSM2
tokens with a real polkitd, the shipped policy and the shipped role rules (the kiosk's seat
condition left out: no caller here has a logind seat): refusals and usage errors come before any
prompt, a too-short new PIN is refused at its first prompt, init and delete ask first."""

import os
import pty
import pwd
import select
import subprocess
import sys
import time

from polkit_env import POLKIT_BUS_CONF, POLKITD, Users, shipped_rules_off_seat, start_polkitd
from tap import Tap, skip
from tokend_env import SO_PIN, SOFTHSM_MODULE, TOKEN, USER_PIN, Env, exec_as, need

TOKENCTL = os.environ["TOKENCTL"]
source = os.environ["TOKEND_SOURCE_DIR"]

if os.geteuid() != 0:
    skip("needs root (polkitd, test users and groups)")
need("dbus-daemon", "softhsm2-util", "setpriv", "unshare", "useradd", POLKITD, POLKIT_BUS_CONF,
     SOFTHSM_MODULE)

users = Users()
kiosk = users.user(f"tkp-kiosk-{os.getpid()}", ["tokend-kiosk"])
plain = users.user(f"tkp-user-{os.getpid()}")
try:
    env = Env(labels=("pr-a", "pr-b"), extra_policies=(POLKIT_BUS_CONF,))
except BaseException:
    users.close()
    raise
os.chmod(env.dir, 0o755)
# Any prompt tokenctl shows for a PIN ends so; no refusal may follow one.
PIN_PROMPT = b"PIN: "


def on_pty(args, user=None, answers=(), timeout=30):
    """tokenctl ARGS on a pseudo-terminal, as user (root when None) with its groups, answering
    each (prompt, reply) in turn once the prompt is shown; (exit status, all it wrote)."""
    argv = [env.copy_for_other_users(TOKENCTL), *args]
    if user:
        account = pwd.getpwnam(user)
        argv = ["/usr/bin/setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}",
                "--init-groups", *argv]
    pid, fd = pty.fork()
    if pid == 0:
        exec_as(argv, env.env, cwd=env.other_users_dir())
    out, pos, answers = b"", 0, list(answers)
    end = time.monotonic() + timeout
    try:
        while time.monotonic() < end:
            r, _, _ = select.select([fd], [], [], 0.5)
            if not r:
                continue
            try:
                chunk = os.read(fd, 1024)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
            if answers and answers[0][0] in out[pos:]:
                pos = out.index(answers[0][0], pos) + len(answers[0][0])
                os.write(fd, (answers.pop(0)[1] + "\n").encode())
        else:
            os.kill(pid, 9)
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    return os.waitstatus_to_exitcode(status), out


def script(*args, stdin=""):
    return subprocess.run([TOKENCTL, *args], input=stdin, capture_output=True, text=True,
                          env=env.env, timeout=60)


def unblock_without_request_exits_2_before_any_prompt():
    code, out = on_pty(["unblock", "pr-a"])
    assert code == 2, (code, out)
    assert PIN_PROMPT not in out and b"PUK" not in out, out
    assert b"--request" in out and b'option "request"' not in out, out
    # A blank reference is refused by tokenctl itself, before tokend is asked.
    code, out = on_pty(["unblock", "pr-a", "--request", "   "])
    assert code == 2 and b"--request" in out and PIN_PROMPT not in out, (code, out)


def a_too_short_new_pin_is_refused_at_the_first_prompt_naming_the_minimum():
    code, out = on_pty(["status", "pr-a"])
    assert code == 0 and b"6 to " in out, out  # the site's minimum, not SoftHSM2's 4
    code, out = on_pty(["change-pin", "pr-a"],
                       answers=[(b"Current user PIN: ", USER_PIN), (b"New user PIN: ", "4821"),
                                (b"at least 6 characters", ""), (b"New user PIN: ", ""),
                                (b"New user PIN: ", ""), (b"New user PIN: ", "")])
    first = out.index(b"at least 6 characters")
    # Asked again at once: no repeat of the short PIN, no call to the token.
    assert b"Repeat" not in out[:first], out
    assert b"4821" not in out, out
    assert code != 0, out


def a_kiosk_account_is_refused_everything_but_the_user_pin_change_before_any_pin():
    cert = os.path.join(env.dir, "kiosk.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", "/dev/null", "-out", cert,
                    "-subj", "/CN=Kiosk", "-days", "1"], check=True, capture_output=True)
    os.chmod(cert, 0o644)
    for args in (["change-pin", "pr-a", "--so"],
                 ["unblock", "pr-a", "--request", "ULA-KIOSK-1"],
                 ["init", "pr-a", "--label", "kiosk"],
                 ["delete", "pr-a", "--key", "01"],
                 ["keygen", "pr-a", "--type", "ec-p256"],
                 ["csr", "pr-a", "--key", "01", "--subject", "CN=Kiosk"],
                 ["import-cert", "pr-a", cert]):
        code, out = on_pty(args, user=kiosk)
        assert code == 3, (args, code, out)
        assert PIN_PROMPT not in out and b"Type the token" not in out and b"[y/N]" not in out, \
            (args, out)
        assert b"Not authorised" in out, (args, out)
    code, out = on_pty(["change-pin", "pr-a"], user=kiosk,
                       answers=[(b"Current user PIN: ", USER_PIN), (b"New user PIN: ", "639172"),
                                (b"Repeat new user PIN: ", "639172")])
    assert code == 0 and b"PIN changed on token" in out, (code, out)
    assert script("change-pin", "pr-a", "--pin-file", "-", "--new-pin-file", "-",
                  stdin="639172\n" + USER_PIN + "\n").returncode == 0


def key_commands_check_their_arguments_before_the_pin():
    # What tokend refuses in the arguments (a label with a control character, a subject it
    # cannot read, an unknown option value) is said before the PIN is asked.
    for args in (["keygen", "pr-a", "--type", "ec-p256", "--label", "a\x1bb"],
                 ["csr", "pr-a", "--key", "01", "--subject", "CN=a\\07b"],
                 ["csr", "pr-a", "--key", "01", "--subject", "CN=x", *["--dns", "a.example"] * 40]):
        code, out = on_pty(args)
        assert code == 2, (args, code, out)
        assert PIN_PROMPT not in out, (args, out)


def a_plain_users_pin_change_is_not_authorised_before_any_prompt():
    code, out = on_pty(["change-pin", "pr-a"], user=plain)
    assert code == 3, (code, out)
    assert PIN_PROMPT not in out, out
    assert b"Not authorised" in out, out


def init_and_delete_ask_first_and_scripts_say_yes():
    label = env.get(env.token_by_label("pr-b"), TOKEN, "Label")
    code, out = on_pty(["init", "pr-b", "--label", "fresh"],
                       answers=[(b"Type the token's serial to go on: ", "no")])
    assert code == 1 and b"Not confirmed; nothing was changed." in out, (code, out)
    assert PIN_PROMPT not in out, out
    assert env.token_by_label("pr-b") and \
        env.get(env.token_by_label("pr-b"), TOKEN, "Label") == label
    code, out = on_pty(["delete", "pr-b", "--cert", "0a"], answers=[(b"[y/N] ", "")])
    assert code == 1 and b"Not confirmed" in out and PIN_PROMPT not in out, (code, out)
    # No terminal: --yes or nothing.
    p = script("init", "pr-b", "--label", "fresh", "--so-pin-file", "-", "--new-pin-file", "-",
               stdin=SO_PIN + "\n" + USER_PIN + "\n")
    assert p.returncode == 2 and "--yes" in p.stderr, (p.returncode, p.stderr)
    p = script("delete", "pr-b", "--cert", "0a", "--pin-file", "-", stdin=USER_PIN + "\n")
    assert p.returncode == 2 and "--yes" in p.stderr, (p.returncode, p.stderr)
    p = script("init", "pr-b", "--label", "fresh", "--yes", "--so-pin-file", "-",
               "--new-pin-file", "-", stdin=SO_PIN + "\n" + USER_PIN + "\n")
    assert p.returncode == 0, p.stderr
    env.wait_for(lambda: env.token_by_label("fresh"), 10, "the token relabelled")


rc = 1
try:
    try:
        start_polkitd(env, source, rules_text=shipped_rules_off_seat(source))
    except AssertionError as e:
        skip(f"polkitd did not start on the private bus: {e}".splitlines()[0])
    rc = Tap([unblock_without_request_exits_2_before_any_prompt,
              a_too_short_new_pin_is_refused_at_the_first_prompt_naming_the_minimum,
              a_kiosk_account_is_refused_everything_but_the_user_pin_change_before_any_pin,
              key_commands_check_their_arguments_before_the_pin,
              a_plain_users_pin_change_is_not_authorised_before_any_prompt,
              init_and_delete_ask_first_and_scripts_say_yes]).run()
finally:
    env.close()
    users.close()
sys.exit(rc)
