#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Cockpit page's message catalogue for one language, as cockpit.locale() takes it.

The words the page shows are the msgids of _("…") and N_("…") in its JavaScript and of the
elements marked data-i18n in its HTML (their text). Each is looked up in the .po files given, in order: the
page's own (cli/cockpit/po/LL.po), then tokenctl's (cli/po/LL.po), so that a sentence the page
shares with tokenctl is translated once. msgfmt compiles each file (so fuzzy and untranslated
entries count as missing, as for tokenctl) and Python's gettext reads the result.

    make-catalogue.py --language LL --po PAGE.po --po CLI.po --out po.LL.json SOURCES...
    make-catalogue.py --list SOURCES...          the msgids the page uses, as JSON
    make-catalogue.py --missing --po ... SOURCES...   those without a translation; exit 1 if any
"""

import argparse
import gettext
import json
import os
import re
import subprocess
import sys
import tempfile
from html.parser import HTMLParser

JS_CALL = re.compile(r'(?<![\w.])N?_\(\s*"((?:[^"\\]|\\.)*)"\s*\)')


class HtmlWords(HTMLParser):
    """The text of each element marked data-i18n, its whitespace collapsed as the page's
    useLanguage() collapses it."""

    def __init__(self):
        super().__init__()
        self.words, self.open = [], []

    def handle_starttag(self, tag, attrs):
        if tag in ("input", "meta", "link", "br", "img"):
            return
        self.open.append([tag, "data-i18n" in dict(attrs), ""])

    def handle_data(self, data):
        for e in self.open:
            e[2] += data

    def handle_endtag(self, tag):
        while self.open:
            t, marked, text = self.open.pop()
            if marked:
                self.words.append(" ".join(text.split()))
            if t == tag:
                break


def used_msgids(sources):
    found = []
    for path in sources:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        if path.endswith(".js"):
            ids = [json.loads(f'"{m}"') for m in JS_CALL.findall(text)]
        else:
            parser = HtmlWords()
            parser.feed(text)
            ids = parser.words
        for i in ids:
            if i not in found:
                found.append(i)
    return found


def read_po(path):
    with tempfile.TemporaryDirectory() as d:
        mo = os.path.join(d, "out.mo")
        subprocess.run(["msgfmt", "--check-format", "-o", mo, path], check=True)
        with open(mo, "rb") as f:
            return gettext.GNUTranslations(f)._catalog


def translate(msgids, po_files):
    catalogues = [read_po(p) for p in po_files]
    out, missing = {}, []
    for m in msgids:
        t = next((c[m] for c in catalogues if c.get(m)), None)
        if t is None:
            missing.append(m)
        else:
            out[m] = t
    return out, missing


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--language")
    ap.add_argument("--po", action="append", default=[])
    ap.add_argument("--out")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--missing", action="store_true")
    ap.add_argument("sources", nargs="+")
    a = ap.parse_args()

    msgids = used_msgids(a.sources)
    if a.list:
        json.dump(msgids, sys.stdout, ensure_ascii=False, indent=1)
        return 0
    found, missing = translate(msgids, a.po)
    if a.missing:
        for m in missing:
            print(json.dumps(m, ensure_ascii=False))
        return 1 if missing else 0
    catalogue = {"": {"language": a.language, "language-direction": "ltr"}}
    catalogue.update({m: [None, t] for m, t in found.items()})
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(catalogue, f, ensure_ascii=False, indent=0, sort_keys=True)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
