#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""tokenctl without a daemon: usage errors, exit codes, help, JSON errors, audit verify."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager

from tap import Tap
from tokend_env import run_on_pty
from zsh_completion import ZshCompletion

TOKENCTL = os.environ["TOKENCTL"]
# Under "meson test --setup=valgrind" every tokenctl run goes through valgrind; an error or a
# definite leak turns into exit status 99, which no test expects.
VALGRIND = (["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
             "--errors-for-leak-kinds=definite", "--show-leak-kinds=definite"]
            if os.environ.get("TOKEND_UNDER_VALGRIND") else [])
AUDIT_FIXTURE = os.environ["AUDIT_FIXTURE"]
SRCDIR = os.environ["SRCDIR"]
BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"

VERBS = ["list", "status", "objects", "keygen", "csr", "import-cert", "change-pin", "unblock",
         "init", "delete", "monitor", "audit", "provision"]


def run(*args, stdin=None, env_extra=None):
    env = dict(os.environ)
    # Nothing listens here: a test that reaches the bus fails fast and predictably.
    env["DBUS_SYSTEM_BUS_ADDRESS"] = "unix:path=/nonexistent/tokenctl-test-bus"
    env.pop("NO_COLOR", None)
    if env_extra:
        env.update(env_extra)
    return subprocess.run([*VALGRIND, TOKENCTL, *args], input=stdin, capture_output=True, text=True,
                          env=env, timeout=30)


def help_options(text):
    return set(re.findall(r"--[a-z][a-z-]+", text))


# help

def test_help_lists_every_verb():
    p = run("--help")
    assert p.returncode == 0, p.returncode
    listed = re.findall(r"^  ([a-z][a-z-]*)\b", p.stdout, re.M)
    assert listed == VERBS, listed


def test_each_verb_has_help():
    for verb in VERBS:
        p = run(verb, "--help")
        assert p.returncode == 0, verb
        assert p.stdout.startswith("tokenctl " + verb), verb
        assert "--json" in p.stdout, verb


def test_help_man_page_and_completion_agree():
    with open(os.path.join(SRCDIR, "docs", "tokenctl.1.scd")) as f:
        man = f.read()
    with open(os.path.join(SRCDIR, "cli", "tokenctl.bash-completion")) as f:
        completion = f.read()
    for verb in VERBS:
        assert re.search(r"\n\*%s[* ]" % re.escape(verb), man), "man page lacks verb " + verb
        assert re.search(r"\b%s\b" % re.escape(verb), completion), "completion lacks " + verb
        opts = help_options(run(verb, "--help").stdout)
        for opt in opts:
            assert "*%s*" % opt in man, "man page lacks %s (%s)" % (opt, verb)
            assert opt in completion, "completion lacks %s (%s)" % (opt, verb)
    # and nothing documented that the program does not know
    documented = set(re.findall(r"\*(--[a-z][a-z-]+)\*", man))
    known = help_options(run("--help").stdout)
    for verb in VERBS:
        known |= help_options(run(verb, "--help").stdout)
    assert documented - known == set(), documented - known


def test_version():
    p = run("--version")
    assert p.returncode == 0, p.returncode
    assert re.search(r"^tokenctl \d+\.\d+", p.stdout), p.stdout


# bash completion

def complete(*words, prelude=""):
    """What the bash completion offers for the last word (may be ""), after the shell code
    prelude (the bash-completion package's functions, say)."""
    script = (prelude + 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); '
              '_tokenctl; printf "%s\\n" "${COMPREPLY[@]}"')
    # PATH leads nowhere, so completing a TOKEN does not ask some installed tokenctl.
    p = subprocess.run([shutil.which("bash"), "-c", script, "bash",
                        os.path.join(SRCDIR, "cli", "tokenctl.bash-completion"), *words],
                       capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, PATH="/nonexistent"))
    return set(p.stdout.split())


def test_verbs_and_per_verb_options():
    got = complete("tokenctl", "")
    assert got == set(VERBS), got
    got = complete("tokenctl", "ch")
    assert got == {"change-pin"}, got
    for verb in VERBS:
        offered = {o for o in complete("tokenctl", verb, "--") if o.startswith("--")}
        wanted = help_options(run(verb, "--help").stdout)
        assert offered == wanted, (verb, offered, wanted)


def test_file_names_through_bash_completion_package():
    # Where the bash-completion package is loaded, file names come from its _filedir; a
    # completion that called itself instead would never return (FUNCNEST stops it here).
    got = complete("tokenctl", "import-cert", "T", "", prelude='FUNCNEST=50; '
                   '_filedir() { COMPREPLY=(from-filedir); }; ')
    assert got == {"from-filedir"}, got
    # And with the package itself loaded, as a person's shell has it.
    assert os.path.exists(BASH_COMPLETION), f"{BASH_COMPLETION}: install bash-completion"
    with tempfile.TemporaryDirectory() as d:
        for name in ("holder.pem", "chain.pem", "other.der"):
            open(os.path.join(d, name), "w").close()
        real = (f'FUNCNEST=50; source {BASH_COMPLETION}; cd {d}; COMP_LINE="${{*:2}}"; '
                'COMP_POINT=${#COMP_LINE}; ')
        got = complete("tokenctl", "import-cert", "T", "h", prelude=real)
        assert got == {"holder.pem"}, got
        got = complete("tokenctl", "import-cert", "T", "x.pem", "--chain", "c", prelude=real)
        assert got == {"chain.pem"}, got
        got = complete("tokenctl", "ch", prelude=real)
        assert got == {"change-pin"}, got


# zsh completion

def test_zsh_completion():
    assert shutil.which("zsh"), "zsh is not installed (.ci/install-deps installs it)"
    with tempfile.TemporaryDirectory() as d:
        for name in ("holder.pem", "chain.pem"):
            open(os.path.join(d, name), "w").close()
        zsh = ZshCompletion(os.path.join(SRCDIR, "cli"), d)
        try:
            got = zsh.complete("tokenctl ")
            assert got == set(VERBS), got
            got = zsh.complete("tokenctl ch")
            assert got == {"change-pin"}, got
            for verb in VERBS:
                offered = {o for o in zsh.complete(f"tokenctl {verb} --") if o.startswith("--")}
                wanted = help_options(run(verb, "--help").stdout)
                assert offered == wanted, (verb, offered ^ wanted)
            got = zsh.complete("tokenctl keygen T --type=ec")
            assert got == {"ec-p256", "ec-p384"}, got
            got = zsh.complete("tokenctl --json=")
            assert got == {"pretty", "short", "off"}, got
            got = zsh.complete("tokenctl audit ")
            assert got == {"verify", "list"}, got
            got = zsh.complete("tokenctl import-cert T h")
            assert got == {"holder.pem"}, got
            # --so and --puk exclude each other, as tokenctl says
            got = zsh.complete("tokenctl change-pin T --so --p")
            assert "--puk" not in got and "--pin-file" in got, got
        finally:
            zsh.close()


def test_json_modes():
    for words in (("tokenctl", "--json", "=", ""), ("tokenctl", "list", "--json", "=", "")):
        got = complete(*words)
        assert got == {"pretty", "short", "off"}, (words, got)
    got = complete("tokenctl", "--json", "=", "sh")
    assert got == {"short"}, got
    # where "=" does not split words (COMP_WORDBREAKS without it)
    got = complete("tokenctl", "--json=p")
    assert got == {"--json=pretty"}, got


def test_key_types():
    got = complete("tokenctl", "keygen", "T", "--type", "ec")
    assert got == {"ec-p256", "ec-p384"}, got
    got = complete("tokenctl", "audit", "")
    assert got == {"verify", "list"}, got
    got = complete("tokenctl", "audit", "list", "--since", "")
    assert got == {"today", "yesterday"}, got


# usage errors

def assert_usage(*args):
    p = run(*args)
    assert p.returncode == 2, "%s: %s" % (args, p.stderr)
    assert p.stderr.startswith("tokenctl: "), p.stderr
    return p


def test_usage_errors_exit_2():
    assert_usage()
    assert_usage("frobnicate")
    assert_usage("--frobnicate", "list")
    assert_usage("list", "extra")
    assert_usage("list", "--login")
    assert_usage("status", "--type", "rsa2048")
    assert_usage("keygen", "T")
    assert_usage("keygen", "T", "--type", "dsa1024")
    assert_usage("keygen", "T", "--type", "ec-p256", "--id", "xyz")
    assert_usage("keygen", "T", "--type")
    assert_usage("csr", "T", "--subject", "CN=x")
    assert_usage("csr", "T", "--key", "01")
    assert_usage("delete", "T")
    assert_usage("delete", "T", "--key", "01", "--cert", "01")
    assert_usage("init", "T")
    assert_usage("import-cert", "T")
    assert_usage("audit")
    assert_usage("audit", "check")
    assert_usage("--lab", "L", "init", "T")  # no abbreviations


def test_no_pin_accepted_on_the_command_line():
    for args in (["--pin", "918273"], ["--pin=918273"], ["--so-pin", "918273"],
                 ["--new-pin=918273"], ["--pi=918273"], ["--puk", "918273"]):
        p = assert_usage("change-pin", "T", *args)
        assert "918273" not in p.stderr + p.stdout, (args, p.stdout, p.stderr)
        assert "never from the command line" in p.stderr, (args, p.stderr)


def test_pin_file_options_only_where_a_pin_is_used():
    assert_usage("list", "--pin-file", "-")
    assert_usage("status", "--so-pin-file", "-")
    assert_usage("keygen", "T", "--type", "ec-p256", "--new-pin-file", "-")


# JSON output

def error_doc(p):
    doc = json.loads(p.stdout)
    assert set(doc) == {"error"}, doc
    err = doc["error"]
    assert isinstance(err["name"], str), err
    assert isinstance(err["message"], str), err
    assert err["exit-code"] == p.returncode, (err, p.returncode)
    assert p.stderr == "", p.stderr
    return err


def test_usage_error_is_one_json_document():
    p = run("--json", "frobnicate")
    assert p.returncode == 2, p.returncode
    err = error_doc(p)
    assert err["name"] == "org.tokend.tokenctl.Error.Usage", err
    assert "frobnicate" in err["message"], err


def test_json_after_the_verb_works_too():
    p = run("keygen", "T", "--json")
    assert p.returncode == 2, p.returncode
    error_doc(p)


def test_json_usage_errors_are_json_on_stdout_with_exit_2():
    """Wherever --json stands, before or after the verb or the bad word, the usage error is one
    JSON document on standard output and nothing reaches standard error."""
    cases = [
        ("--json", "list", "--bogus"),          # unknown option after the verb
        ("list", "--bogus", "--json"),          # --json after the bad option
        ("list", "--json", "--bogus"),
        ("--bogus", "list", "--json=short"),
        ("--json", "-x", "list"),               # unknown short option
        ("--json", "keygen", "T", "--type"),    # missing value, at the end
        ("keygen", "T", "--type", "--json"),    # missing value: the next word is an option
        ("csr", "T", "-o", "--json"),
        ("--json", "frobnicate"),               # unknown verb
        ("frobnicate", "--json"),
        ("--json",),                            # no verb
        ("keygen", "T", "--type", "dsa1024", "--json"),  # bad value
        ("keygen", "T", "--type", "ec-p256", "--id", "xyz", "--json"),
        ("list", "--login", "--json"),          # option the verb does not take
        ("list", "extra", "--json"),            # argument the verb does not take
        ("list", "--login=yes", "--json"),      # value for an option that takes none
        ("--json=bogus", "list"),               # bad --json mode
        ("audit", "check", "--json=pretty"),
    ]
    for args in cases:
        p = run(*args)
        assert p.returncode == 2, (args, p.returncode, p.stdout, p.stderr)
        err = error_doc(p)
        assert err["name"] == "org.tokend.tokenctl.Error.Usage", (args, err)
        assert err["message"], (args, err)


def test_json_usage_error_never_echoes_a_pin():
    for args in (["--pin=918273"], ["--pi=918273"], ["--json=918273"]):
        p = run("--json", "change-pin", "T", *args)
        assert p.returncode == 2, (args, p.returncode)
        error_doc(p)
        assert "918273" not in p.stdout + p.stderr, (args, p.stdout)


def test_json_off_and_the_last_json_counts():
    p = run("--json", "list", "--bogus", "--json=off")
    assert p.returncode == 2 and p.stdout == "", (p.returncode, p.stdout)
    assert p.stderr.startswith("tokenctl: Unknown option --bogus"), p.stderr
    p = run("--json=off", "frobnicate", "--json")
    assert p.returncode == 2, p.returncode
    error_doc(p)


def test_json_short_is_one_line_and_pretty_the_same_document():
    short = run("--json=short", "list")
    pretty = run("--json=pretty", "list")
    bare = run("--json", "list")  # not a terminal: short
    assert short.stdout.count("\n") == 1, short.stdout
    assert pretty.stdout.count("\n") > 3, pretty.stdout
    assert bare.stdout == short.stdout, (bare.stdout, short.stdout)
    assert json.loads(short.stdout) == json.loads(pretty.stdout)
    for p in (short, pretty, bare):
        assert p.returncode == 1, p.returncode
        error_doc(p)


def test_bare_json_is_pretty_on_a_terminal():
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS="unix:path=/nonexistent/tokenctl-test-bus")
    code, out = run_on_pty([TOKENCTL, "--json", "list"], env)
    assert code == 1, out
    text = out.decode().replace("\r\n", "\n")
    assert text.count("\n") > 3, text
    assert json.loads(text)["error"]["exit-code"] == 1, text


def test_unwritable_stdout_is_a_failure_said_on_stderr():
    with open("/dev/full", "w") as full:
        for args, code in ((["--json", "frobnicate"], 2), (["--json", "list"], 1),
                           (["--version"], 1), (["--json", "audit", "verify", "/nonexistent"], 1)):
            p = subprocess.run([*VALGRIND, TOKENCTL, *args], stdout=full, stderr=subprocess.PIPE,
                               text=True, timeout=30,
                               env=dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS="unix:path=/nonexistent"))
            assert p.returncode == code, (args, p.returncode, p.stderr)
            assert "Cannot write to standard output" in p.stderr, (args, p.stderr)


def test_bus_failure_is_json_and_exit_1():
    for verb in (["list"], ["status"], ["objects", "T"], ["monitor"]):
        p = run("--json", *verb)
        assert p.returncode == 1, (verb, p.returncode)
        err = error_doc(p)
        assert "bus" in err["message"], (verb, err)


def test_human_error_names_what_failed():
    p = run("list")
    assert p.returncode == 1, p.returncode
    assert p.stdout == "", p.stdout
    assert "system bus" in p.stderr, p.stderr


# audit verify

@contextmanager
def audit_chain():
    """A fresh chain of 5 audit lines written by libtoken (audit-fixture), in a temp dir."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "audit.jsonl")
        subprocess.run([AUDIT_FIXTURE, path, "5"], check=True)
        yield path


def test_intact_chain_verifies():
    with audit_chain() as path:
        p = run("audit", "verify", path)
        assert p.returncode == 0, p.stderr
        assert "5 lines, hash chain intact" in p.stdout, p.stdout
        p = run("--json", "audit", "verify", path)
        doc = json.loads(p.stdout)
        assert doc["lines"] == 5, doc
        assert doc["intact"], doc
        assert doc["head"]["seq"] == 5, doc
        assert re.search(r"^[0-9a-f]{64}$", doc["head"]["hash"]), doc


def test_edited_line_is_found():
    with audit_chain() as path:
        with open(path) as f:
            lines = f.readlines()
        lines[2] = lines[2].replace("UNLOCK-2026-0001", "UNLOCK-2026-0002")
        with open(path, "w") as f:
            f.writelines(lines)
        p = run("audit", "verify", path)
        assert p.returncode == 8, p.returncode
        assert "line" in p.stderr, p.stderr
        p = run("--json", "audit", "verify", path)
        assert p.returncode == 8, p.returncode
        name = json.loads(p.stdout)["error"]["name"]
        assert name == "org.tokend.tokenctl.Error.AuditChainBroken", name


def test_removed_line_is_found():
    with audit_chain() as path:
        with open(path) as f:
            lines = f.readlines()
        del lines[1]
        with open(path, "w") as f:
            f.writelines(lines)
        p = run("audit", "verify", path)
        assert p.returncode == 8, (p.returncode, p.stderr)


def test_missing_file_is_a_failure():
    with audit_chain() as path:
        p = run("audit", "verify", os.path.join(os.path.dirname(path), "none.jsonl"))
        assert p.returncode == 1, (p.returncode, p.stderr)


def test_audit_verify_reads_the_file_that_the_config_names():
    with audit_chain() as path:
        d = os.path.dirname(path)
        conf = os.path.join(d, "tokend.conf")
        with open(conf, "w") as f:
            f.write(f"[Modules]\nModule=/nonexistent.so\n[Audit]\nFile=/nonexistent\n"
                    f"File={path}\n")
        p = run("audit", "verify", "--config", conf)
        assert p.returncode == 0, p.stderr
        assert f"{path}: 5 lines, hash chain intact" in p.stdout, p.stdout
        p = run("--json", "audit", "verify", "--config", conf)
        assert json.loads(p.stdout)["file"] == path, p.stdout
        # FILE and --config together: one of them is not meant.
        assert_usage("audit", "verify", "--config", conf, path)


def test_audit_verify_refuses_a_config_that_tokend_refuses():
    with tempfile.TemporaryDirectory() as d:
        conf = os.path.join(d, "tokend.conf")
        for text, says in (("[Audit]\nFile=audit.jsonl\n", ":2: [Audit] File= is not an absolute"),
                           ("[Audit]\nFile\n", ":2: syntax error")):
            with open(conf, "w") as f:
                f.write(text)
            p = run("audit", "verify", "--config", conf)
            assert p.returncode == 1 and conf + says in p.stderr, (text, p.returncode, p.stderr)
        p = run("audit", "verify", "--config", os.path.join(d, "none.conf"))
        assert p.returncode == 1 and "none.conf to find the audit file" in p.stderr, p.stderr


def test_audit_list_shows_the_fixtures_acts():
    with audit_chain() as path:
        p = run("audit", "list", path)
        assert p.returncode == 0, p.stderr
        lines = p.stdout.splitlines()
        assert lines[0].split() == ["TIME", "USER", "OPERATION", "TOKEN", "REQUEST", "RESULT"], \
            lines
        assert len(lines) == 6 and all(" unblock-pin  0011223344  UNLOCK-2026-0001  ok" in l
                                       for l in lines[1:]), lines
        p = run("--json", "audit", "list", path, "--request", "UNLOCK-2026-0001")
        acts = json.loads(p.stdout)
        assert [a["outcome-seq"] for a in acts] == [1, 2, 3, 4, 5], acts
        assert acts[0]["uid"] == 1000 and acts[0]["intent-seq"] is None, acts[0]
        p = run("--json", "audit", "list", path, "--token", "0011", "--since", "2026-11-25")
        assert json.loads(p.stdout) == [], p.stdout
        p = run("audit", "list", path, "--until", "2026-11-24")
        assert p.returncode == 0 and p.stdout == f"No acts in {path} match.\n", p.stdout


def test_audit_list_usage_errors_name_the_option():
    with audit_chain() as path:
        for args, says in ((["--since", "soon"], '--since "soon" is not a time'),
                           (["--until", "2026-02-30"], '--until "2026-02-30" is not a time'),
                           (["--since", "-2y"], '--since "-2y" is not a time'),
                           (["--since", "today", "--until", "yesterday"], "--since is later"),
                           (["--operation", "Unblock PIN"], "--operation takes")):
            p = assert_usage("audit", "list", path, *args)
            assert says in p.stderr, (args, p.stderr)
            p = run("--json", "audit", "list", path, *args)
            assert p.returncode == 2, (args, p.returncode)
            assert json.loads(p.stdout)["error"]["name"] == "org.tokend.tokenctl.Error.Usage"
        p = assert_usage("audit", "verify", path, "--since", "today")
        assert "audit verify does not take --since" in p.stderr, p.stderr
        assert_usage("audit", "list", path, path)


def test_missing_trail_is_named():
    with tempfile.TemporaryDirectory() as d:
        conf = os.path.join(d, "tokend.conf")
        with open(conf, "w") as f:
            f.write(f"[Audit]\nFile={d}/audit.jsonl\n")
        p = run("audit", "verify", "--config", conf)
        assert p.returncode == 1, p.returncode
        assert f"The audit trail {d}/audit.jsonl does not exist" in p.stderr, p.stderr


sys.exit(Tap([test_help_lists_every_verb, test_each_verb_has_help,
              test_help_man_page_and_completion_agree, test_version,
              test_verbs_and_per_verb_options, test_file_names_through_bash_completion_package,
              test_zsh_completion,
              test_json_modes, test_key_types,
              test_usage_errors_exit_2, test_no_pin_accepted_on_the_command_line,
              test_pin_file_options_only_where_a_pin_is_used,
              test_usage_error_is_one_json_document, test_json_after_the_verb_works_too,
              test_json_usage_errors_are_json_on_stdout_with_exit_2,
              test_json_usage_error_never_echoes_a_pin, test_json_off_and_the_last_json_counts,
              test_json_short_is_one_line_and_pretty_the_same_document,
              test_bare_json_is_pretty_on_a_terminal,
              test_unwritable_stdout_is_a_failure_said_on_stderr,
              test_bus_failure_is_json_and_exit_1, test_human_error_names_what_failed,
              test_intact_chain_verifies, test_edited_line_is_found, test_removed_line_is_found,
              test_missing_file_is_a_failure,
              test_audit_verify_reads_the_file_that_the_config_names,
              test_audit_verify_refuses_a_config_that_tokend_refuses,
              test_missing_trail_is_named, test_audit_list_shows_the_fixtures_acts,
              test_audit_list_usage_errors_name_the_option]).run())
