#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""tokenctl's catalogues against its sources: a template made afresh from cli/po/POTFILES with
the xgettext arguments of the build (cli/po/meson.build), every language of LINGUAS translating
each of its messages (none missing, fuzzy, empty or left over), msgfmt --check clean; and no
string for a person in those sources that is not marked for translation."""

import os
import re
import shutil
import subprocess
import tempfile

from tap import Tap, skip

SOURCE = os.environ["TOKEND_SOURCE_DIR"]
PO = os.path.join(SOURCE, "cli", "po")
XGETTEXT_ARGS = os.environ["XGETTEXT_ARGS"].split("\n")

for tool in ("xgettext", "msgmerge", "msgfmt"):
    if not shutil.which(tool):
        skip(f"{tool} is not installed (package gettext)")

tmp = tempfile.mkdtemp(prefix="tokenctl-po-")


def lines(name):
    with open(os.path.join(PO, name)) as f:
        return [l.strip() for l in f if l.strip() and not l.startswith("#")]


def run(*cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=SOURCE)
    assert p.returncode == 0, f"{' '.join(cmd)}: exit {p.returncode}\n{p.stdout}{p.stderr}"
    return p


def template():
    pot = os.path.join(tmp, "tokenctl.pot")
    if not os.path.exists(pot):
        run("xgettext", *XGETTEXT_ARGS, "--package-name=tokenctl", "-f",
            os.path.join(PO, "POTFILES"), "-o", pot)
    return pot


def potfiles_list_every_cli_source():
    listed = set(lines("POTFILES"))
    sources = {f"cli/{f}" for f in os.listdir(os.path.join(SOURCE, "cli")) if f.endswith(".c")}
    assert listed == sources, f"missing {sorted(sources - listed)}, extra {sorted(listed - sources)}"


def every_language_translates_every_message():
    pot = template()
    with open(pot) as f:
        wanted = sum(1 for l in f if l.startswith("msgid ")) - 1  # less the header
    assert wanted > 100, wanted
    failures = []
    for lang in lines("LINGUAS"):
        po = os.path.join(PO, f"{lang}.po")
        merged = os.path.join(tmp, f"{lang}.po")
        # The .po as it is must be clean too, and with the template's messages merged in (new
        # ones come in untranslated, changed ones fuzzy, gone ones obsolete).
        run("msgfmt", "--check", "-o", os.devnull, po)
        run("msgmerge", "--quiet", "--no-wrap", "-o", merged, po, pot)
        stats = run("msgfmt", "--check", "--statistics", "-o", os.devnull, merged).stderr.strip()
        if stats != f"{wanted} translated messages.":
            failures.append(f"{lang}: {stats} (of {wanted})")
        with open(merged) as f:
            obsolete = [l for l in f if l.startswith("#~ msgid")]
        if obsolete:
            failures.append(f"{lang}: no longer in the sources: {''.join(obsolete)}")
    assert not failures, "\n".join(failures)


# Calls that put their string argument in front of a person, the string where it starts.
OUTPUT_CALLS = re.compile(
    r"\b(?:(?:printf|puts|fputs)\(|fprintf\(\s*\w+\s*,|print_field\(\s*ctx\s*,"
    r"|snprintf\([^,;]+,[^,;]+,|asprintf\([^,;]+,)\s*(?=\")")
# Tables whose strings are shown: table headings.
HEADING_TABLE = re.compile(r"headers\[\]\s*=\s*\{([^}]*)\}")
LITERALS = re.compile(r'"(?:[^"\\\n]|\\.)*"(?:\s*"(?:[^"\\\n]|\\.)*")*')

# The deliberate exceptions, (file, literal as in the source): not words for a person.
ALLOWED = {
    ("cli/tokenctl.c", r'"tokenctl %s\n"'),          # --version: the program and its version
    ("cli/tokenctl.c", r'"%stokenctl: %s%s\n"'),     # the program's name before its message
    ("cli/verb-info.c", '"%sState"'),                # bus property names
    ("cli/verb-info.c", '"%sRetries"'),
    ("cli/verb-info.c", '"%sRetriesSource"'),
    ("cli/verb-info.c", '"EC %s"'),                  # a key's algorithm and curve
    ("cli/verb-provision.c", '"%s.tmp.%ld"'),        # file names
    ("cli/verb-provision.c", '"%s/%s.csr"'),
}


def has_words(literal):
    text = re.sub(r"%[-#0-9.*lzhjt$]*[a-zA-Z]", "", literal)
    text = re.sub(r"\\.", "", text)
    return re.search(r"[A-Za-z]{2,}", text) is not None


def unmarked_strings(path, code):
    found = []
    for m in OUTPUT_CALLS.finditer(code):
        lit = LITERALS.match(code, m.end()).group(0)
        found.append(lit)
    for m in HEADING_TABLE.finditer(code):
        for lit in LITERALS.finditer(m.group(1)):
            if not m.group(1)[:lit.start()].rstrip().endswith("N_("):
                found.append(lit.group(0))
    return [l for l in found if has_words(l) and (path, l) not in ALLOWED]


def no_unmarked_string_for_people_in_the_sources():
    failures = []
    for path in lines("POTFILES"):
        with open(os.path.join(SOURCE, path)) as f:
            code = f.read()
        failures += [f"{path}: {l}" for l in unmarked_strings(path, code)]
    assert not failures, "not marked for translation (wrap in _() or N_()):\n" + "\n".join(failures)


def the_scan_finds_a_planted_string():
    code = ('int f(void)\n{\n    printf(_("Marked %s\\n"), x);\n'
            '    fprintf(stderr, "Not marked: %s\\n", x);\n    puts("Nor this.");\n'
            '    static const char *const headers[] = {N_("ONE"), "TWO"};\n}\n')
    got = unmarked_strings("cli/planted.c", code)
    assert got == ['"Not marked: %s\\n"', '"Nor this."', '"TWO"'], got


def the_allowed_exceptions_are_still_there():
    for path, lit in ALLOWED:
        with open(os.path.join(SOURCE, path)) as f:
            assert lit in f.read(), f"{path} no longer has {lit}: drop it from ALLOWED"


try:
    rc = Tap([potfiles_list_every_cli_source, every_language_translates_every_message,
              no_unmarked_string_for_people_in_the_sources, the_scan_finds_a_planted_string,
              the_allowed_exceptions_are_still_there]).run()
finally:
    shutil.rmtree(tmp, ignore_errors=True)
raise SystemExit(rc)
