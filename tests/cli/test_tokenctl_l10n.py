#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""tokenctl in Traditional Chinese and in Portuguese, through the real tokend on SoftHSM2 tokens:
status, list, a usage error and a wrong PIN say what they say in the holder's language, and the
--json document of each is byte for byte the one of the C locale.

Each language is tried twice: as LANGUAGE over C.UTF-8 (glibc 2.35 and later honour LANGUAGE
there), and as a holder's LANG=zh_TW.UTF-8 or pt_PT.UTF-8. Debian ships only C.UTF-8 compiled
(without locales-all): those two are compiled here with localedef from the sources of the
package locales, into a temp dir that LOCPATH names; nothing on the system changes. Without
localedef or those sources, the LANG runs are skipped and say so."""

import os
import shutil
import subprocess
import sys
import tempfile

from tap import Tap
from tokend_env import SOFTHSM_MODULE, USER_PIN, Env, need

# tokenctl as built, reading the catalogues of this build tree (cli/po/LANG/LC_MESSAGES).
TOKENCTL = os.environ["TOKENCTL"]

need("dbus-daemon", "softhsm2-util", SOFTHSM_MODULE)

# For each language: the locale settings to try, and what must appear in each flow.
LANGUAGES = {
    "zh_TW": {
        "locale": "zh_TW.UTF-8",
        "status": "使用者 PIN 碼",
        "list": "讀卡機",
        "usage": "解鎖失敗：",
        "wrong-pin": "刪除失敗：所輸入的 PIN 碼錯誤。（tokend：",
        "help": "透過 tokend 管理智慧卡權杖。",
        "no-command": "未指定命令",
    },
    "pt": {
        "locale": "pt_PT.UTF-8",
        "status": "N.º de série",
        "list": "LEITOR",
        "usage": "O desbloqueio falhou: ",
        "wrong-pin": "A eliminação falhou: O PIN indicado está errado. (tokend: ",
        "help": "Gere tokens de cartão inteligente através do tokend.",
        "no-command": "Nenhum comando indicado",
    },
}

locpath = tempfile.mkdtemp(prefix="tokenctl-locales-")


def compile_locales():
    """The LANG locales into locpath, at the same time; the names of those that could be made."""
    sources = "/usr/share/i18n/locales"
    if not shutil.which("localedef"):
        return set()
    jobs = {}
    for lang, want in LANGUAGES.items():
        name = want["locale"]
        source = name.split(".")[0]
        if os.path.exists(os.path.join(sources, source)):
            jobs[name] = subprocess.Popen(
                ["localedef", "-i", source, "-f", "UTF-8", os.path.join(locpath, name)],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    made = set()
    for name, p in jobs.items():
        # localedef warns (exit 1) about some sources yet writes a locale that works.
        p.communicate(timeout=60)
        if os.path.exists(os.path.join(locpath, name, "LC_CTYPE")):
            made.add(name)
    return made


compiled = compile_locales()
env = Env(labels=("l10n-a",))


def settings():
    """(name, environment, language) of every locale setting tried, the C locale first."""
    base = {k: v for k, v in env.env.items() if not k.startswith(("LC_", "LANG"))}
    out = [("C", {**base, "LC_ALL": "C.UTF-8"}, None)]
    for lang, want in LANGUAGES.items():
        out.append((f"LANGUAGE={lang}", {**base, "LC_ALL": "C.UTF-8", "LANGUAGE": lang}, lang))
        if want["locale"] in compiled:
            out.append((f"LANG={want['locale']}",
                        {**base, "LANG": want["locale"], "LOCPATH": locpath}, lang))
    return out


def tokenctl(environ, *args, stdin=None, expect=0):
    p = subprocess.run([TOKENCTL, *args], input=stdin, capture_output=True, text=True,
                       env=environ, timeout=60, start_new_session=True)
    assert p.returncode == expect, (f"tokenctl {' '.join(args)}: exit {p.returncode}, "
                                    f"wanted {expect}\n{p.stdout}\n{p.stderr}")
    return p


def each_language(flow):
    """Runs flow(name, environ, lang) under every setting but C."""
    for name, environ, lang in settings():
        if lang:
            flow(name, environ, lang)


def locales_for_lang_were_compiled():
    missing = [w["locale"] for w in LANGUAGES.values() if w["locale"] not in compiled]
    if missing:
        # Said, not failed: the LANGUAGE runs still check every translation.
        print(f"# SKIP the LANG runs of {', '.join(missing)}: localedef or the locale sources "
              "(package locales) are missing")


def help_is_translated():
    def flow(name, environ, lang):
        p = tokenctl(environ, "--help")
        assert LANGUAGES[lang]["help"] in p.stdout, (name, p.stdout)
        assert "--no-ask-password" in p.stdout, (name, p.stdout)
    each_language(flow)


def usage_error_without_a_command_is_translated():
    def flow(name, environ, lang):
        p = tokenctl(environ, expect=2)
        assert LANGUAGES[lang]["no-command"] in p.stderr, (name, p.stderr)
    each_language(flow)


def status_is_translated():
    def flow(name, environ, lang):
        p = tokenctl(environ, "status", "l10n-a")
        assert LANGUAGES[lang]["status"] in p.stdout, (name, p.stdout)
        assert "l10n-a" in p.stdout, (name, p.stdout)
    each_language(flow)


def list_headings_are_translated():
    def flow(name, environ, lang):
        p = tokenctl(environ, "list")
        assert LANGUAGES[lang]["list"] in p.stdout.splitlines()[0], (name, p.stdout)
        assert "SERIAL" not in p.stdout, (name, p.stdout)
    each_language(flow)


def unblock_without_request_is_a_translated_usage_error():
    def flow(name, environ, lang):
        p = tokenctl(environ, "unblock", "l10n-a", "--so-pin-file", "-", "--new-pin-file", "-",
                     stdin="x\ny\n", expect=2)
        assert LANGUAGES[lang]["usage"] in p.stderr, (name, p.stderr)
        assert "--request" in p.stderr, (name, p.stderr)
    each_language(flow)


def wrong_pin_refusal_is_translated():
    def flow(name, environ, lang):
        p = tokenctl(environ, "delete", "l10n-a", "--yes", "--key", "01", "--pin-file", "-",
                     stdin="999999\n", expect=5)
        # What tokend's refusal means comes in the language, then tokend's own words.
        assert LANGUAGES[lang]["wrong-pin"] in p.stderr, (name, p.stderr)
        # One good login resets the count, so that every setting meets the same token.
        tokenctl(environ, "objects", "l10n-a", "--login", "--pin-file", "-",
                 stdin=USER_PIN + "\n")
    each_language(flow)
    # In English, tokend's own message is the whole of it.
    c = settings()[0][1]
    p = tokenctl(c, "delete", "l10n-a", "--yes", "--key", "01", "--pin-file", "-",
                 stdin="999999\n", expect=5)
    assert p.stderr.startswith("tokenctl: Deleting failed: ") and "(tokend:" not in p.stderr, \
        p.stderr
    tokenctl(c, "objects", "l10n-a", "--login", "--pin-file", "-", stdin=USER_PIN + "\n")


def json_is_the_same_in_every_locale():
    runs = [
        (("status", "l10n-a"), None, 0),
        (("list",), None, 0),
        (("objects", "l10n-a"), None, 0),
        ((), None, 2),
        (("no-such-verb",), None, 2),
        (("unblock", "l10n-a", "--so-pin-file", "-", "--new-pin-file", "-"), "x\ny\n", 2),
        (("delete", "l10n-a", "--yes", "--key", "01", "--pin-file", "-"), "999999\n", 5),
        (("objects", "l10n-a", "--login", "--pin-file", "-"), USER_PIN + "\n", 0),
    ]
    for args, stdin, expect in runs:
        for mode in ("--json=short", "--json=pretty"):
            seen = {}
            for name, environ, _ in settings():
                seen[name] = tokenctl(environ, mode, *args, stdin=stdin, expect=expect).stdout
            c = seen["C"]
            assert c.startswith("{"), (args, c)
            for name, out in seen.items():
                assert out == c, (args, mode, name, out, c)


tests = [locales_for_lang_were_compiled, help_is_translated,
         usage_error_without_a_command_is_translated, status_is_translated,
         list_headings_are_translated, unblock_without_request_is_a_translated_usage_error,
         wrong_pin_refusal_is_translated, json_is_the_same_in_every_locale]

try:
    rc = Tap(tests).run()
finally:
    env.close()
    shutil.rmtree(locpath, ignore_errors=True)
sys.exit(rc)
