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
import unittest

TOKENCTL = os.environ["TOKENCTL"]
# Under "meson test --setup=valgrind" every tokenctl run goes through valgrind; an error or a
# definite leak turns into exit status 99, which no test expects.
VALGRIND = (["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
             "--errors-for-leak-kinds=definite", "--show-leak-kinds=definite"]
            if os.environ.get("TOKEND_UNDER_VALGRIND") else [])
AUDIT_FIXTURE = os.environ["AUDIT_FIXTURE"]
SRCDIR = os.environ["SRCDIR"]

VERBS = ["list", "status", "objects", "keygen", "csr", "import-cert", "change-pin", "unblock",
         "init", "delete", "monitor", "audit"]


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


class Help(unittest.TestCase):
    def test_help_lists_every_verb(self):
        p = run("--help")
        self.assertEqual(p.returncode, 0)
        listed = re.findall(r"^  ([a-z][a-z-]*)\b", p.stdout, re.M)
        self.assertEqual(listed, VERBS)

    def test_each_verb_has_help(self):
        for verb in VERBS:
            p = run(verb, "--help")
            self.assertEqual(p.returncode, 0, verb)
            self.assertTrue(p.stdout.startswith("tokenctl " + verb), verb)
            self.assertIn("--json", p.stdout)

    def test_help_man_page_and_completion_agree(self):
        with open(os.path.join(SRCDIR, "docs", "tokenctl.1.scd")) as f:
            man = f.read()
        with open(os.path.join(SRCDIR, "cli", "tokenctl.bash-completion")) as f:
            completion = f.read()
        for verb in VERBS:
            self.assertRegex(man, r"\n\*%s[* ]" % re.escape(verb), "man page lacks verb " + verb)
            self.assertRegex(completion, r"\b%s\b" % re.escape(verb))
            opts = help_options(run(verb, "--help").stdout)
            for opt in opts:
                self.assertIn("*%s*" % opt, man, "man page lacks %s (%s)" % (opt, verb))
                self.assertIn(opt, completion, "completion lacks %s (%s)" % (opt, verb))
        # and nothing documented that the program does not know
        documented = set(re.findall(r"\*(--[a-z][a-z-]+)\*", man))
        known = help_options(run("--help").stdout)
        for verb in VERBS:
            known |= help_options(run(verb, "--help").stdout)
        self.assertEqual(documented - known, set())

    def test_version(self):
        p = run("--version")
        self.assertEqual(p.returncode, 0)
        self.assertRegex(p.stdout, r"^tokenctl \d+\.\d+")


def complete(*words):
    """What the bash completion offers for the last word (may be "")."""
    script = ('source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _tokenctl; '
              'printf "%s\\n" "${COMPREPLY[@]}"')
    # PATH leads nowhere, so completing a TOKEN does not ask some installed tokenctl.
    p = subprocess.run([shutil.which("bash"), "-c", script, "bash",
                        os.path.join(SRCDIR, "cli", "tokenctl.bash-completion"), *words],
                       capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, PATH="/nonexistent"))
    return set(p.stdout.split())


class Completion(unittest.TestCase):
    def test_verbs_and_per_verb_options(self):
        self.assertEqual(complete("tokenctl", ""), set(VERBS))
        self.assertEqual(complete("tokenctl", "ch"), {"change-pin"})
        for verb in VERBS:
            offered = {o for o in complete("tokenctl", verb, "--") if o.startswith("--")}
            self.assertEqual(offered, help_options(run(verb, "--help").stdout), verb)

    def test_key_types(self):
        self.assertEqual(complete("tokenctl", "keygen", "T", "--type", "ec"),
                         {"ec-p256", "ec-p384"})
        self.assertEqual(complete("tokenctl", "audit", ""), {"verify"})


class Usage(unittest.TestCase):
    def assertUsage(self, *args):
        p = run(*args)
        self.assertEqual(p.returncode, 2, "%s: %s" % (args, p.stderr))
        self.assertTrue(p.stderr.startswith("tokenctl: "), p.stderr)
        return p

    def test_usage_errors_exit_2(self):
        self.assertUsage()
        self.assertUsage("frobnicate")
        self.assertUsage("--frobnicate", "list")
        self.assertUsage("list", "extra")
        self.assertUsage("list", "--login")
        self.assertUsage("status", "--type", "rsa2048")
        self.assertUsage("keygen", "T")
        self.assertUsage("keygen", "T", "--type", "dsa1024")
        self.assertUsage("keygen", "T", "--type", "ec-p256", "--id", "xyz")
        self.assertUsage("keygen", "T", "--type")
        self.assertUsage("csr", "T", "--subject", "CN=x")
        self.assertUsage("csr", "T", "--key", "01")
        self.assertUsage("delete", "T")
        self.assertUsage("delete", "T", "--key", "01", "--cert", "01")
        self.assertUsage("init", "T")
        self.assertUsage("import-cert", "T")
        self.assertUsage("audit")
        self.assertUsage("audit", "check")
        self.assertUsage("--lab", "L", "init", "T")  # no abbreviations

    def test_no_pin_accepted_on_the_command_line(self):
        for args in (["--pin", "918273"], ["--pin=918273"], ["--so-pin", "918273"],
                     ["--new-pin=918273"], ["--pi=918273"], ["--puk", "918273"]):
            p = self.assertUsage("change-pin", "T", *args)
            self.assertNotIn("918273", p.stderr + p.stdout)
            self.assertIn("never from the command line", p.stderr)

    def test_pin_file_options_only_where_a_pin_is_used(self):
        self.assertUsage("list", "--pin-file", "-")
        self.assertUsage("status", "--so-pin-file", "-")
        self.assertUsage("keygen", "T", "--type", "ec-p256", "--new-pin-file", "-")


class JsonOutput(unittest.TestCase):
    def error_doc(self, p):
        doc = json.loads(p.stdout)
        self.assertEqual(set(doc), {"error"})
        err = doc["error"]
        self.assertIsInstance(err["name"], str)
        self.assertIsInstance(err["message"], str)
        self.assertEqual(err["exit-code"], p.returncode)
        self.assertEqual(p.stderr, "")
        return err

    def test_usage_error_is_one_json_document(self):
        p = run("--json", "frobnicate")
        self.assertEqual(p.returncode, 2)
        err = self.error_doc(p)
        self.assertEqual(err["name"], "org.tokend.tokenctl.Error.Usage")
        self.assertIn("frobnicate", err["message"])

    def test_json_after_the_verb_works_too(self):
        p = run("keygen", "T", "--json")
        self.assertEqual(p.returncode, 2)
        self.error_doc(p)

    def test_bus_failure_is_json_and_exit_1(self):
        for verb in (["list"], ["status"], ["objects", "T"], ["monitor"]):
            p = run("--json", *verb)
            self.assertEqual(p.returncode, 1, verb)
            err = self.error_doc(p)
            self.assertIn("bus", err["message"])

    def test_human_error_names_what_failed(self):
        p = run("list")
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stdout, "")
        self.assertIn("system bus", p.stderr)


class Audit(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "audit.jsonl")
        subprocess.run([AUDIT_FIXTURE, self.path, "5"], check=True)

    def tearDown(self):
        self.dir.cleanup()

    def test_intact_chain_verifies(self):
        p = run("audit", "verify", self.path)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("5 lines, hash chain intact", p.stdout)
        p = run("--json", "audit", "verify", self.path)
        doc = json.loads(p.stdout)
        self.assertEqual(doc["lines"], 5)
        self.assertTrue(doc["intact"])
        self.assertEqual(doc["head"]["seq"], 5)
        self.assertRegex(doc["head"]["hash"], r"^[0-9a-f]{64}$")

    def test_edited_line_is_found(self):
        with open(self.path) as f:
            lines = f.readlines()
        lines[2] = lines[2].replace("UNLOCK-2026-0001", "UNLOCK-2026-0002")
        with open(self.path, "w") as f:
            f.writelines(lines)
        p = run("audit", "verify", self.path)
        self.assertEqual(p.returncode, 8)
        self.assertIn("line", p.stderr)
        p = run("--json", "audit", "verify", self.path)
        self.assertEqual(p.returncode, 8)
        self.assertEqual(json.loads(p.stdout)["error"]["name"],
                         "org.tokend.tokenctl.Error.AuditChainBroken")

    def test_removed_line_is_found(self):
        with open(self.path) as f:
            lines = f.readlines()
        del lines[1]
        with open(self.path, "w") as f:
            f.writelines(lines)
        self.assertEqual(run("audit", "verify", self.path).returncode, 8)

    def test_missing_file_is_a_failure(self):
        p = run("audit", "verify", os.path.join(self.dir.name, "none.jsonl"))
        self.assertEqual(p.returncode, 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
