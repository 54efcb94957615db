#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every word the Cockpit page shows has a translation in each of its languages: the msgids of
its JavaScript and HTML, looked up in the built catalogues (po.LL.json), which take the page's
own .po first and tokenctl's after it. A catalogue that lost a word, or a word added to the
page and to no .po, fails here."""

import json
import os
import subprocess
import sys

from tap import Tap

SOURCE = os.environ["TOKEND_SOURCE_DIR"]
PACKAGE = os.environ["COCKPIT_PACKAGE"]
PAGE = f"{SOURCE}/cli/cockpit"
SOURCES = [f"{PAGE}/{f}" for f in ("tokend.js", "helpdesk.js", "kiosk.js", "index.html",
                                   "kiosk.html")]
with open(f"{PAGE}/po/LINGUAS") as f:
    LANGUAGES = f.read().split()


def used():
    out = subprocess.run([sys.executable, f"{PAGE}/po/make-catalogue.py", "--list", *SOURCES],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def catalogue(lang):
    with open(f"{PACKAGE}/po.{lang}.json", encoding="utf-8") as f:
        return json.load(f)


def page_uses_words_from_its_sources():
    ids = used()
    # The extraction sees both kinds of source and the words shared with tokenctl.
    for word in ("Smart tokens: helpdesk", "Unblocking failed", "The PIN given is wrong.",
                 "%s: %s (tokend: %s)", "Change PIN"):
        assert word in ids, word


def every_word_has_a_translation_in_each_language():
    ids = used()
    for lang in LANGUAGES:
        c = catalogue(lang)
        assert c[""]["language"] == lang, c[""]
        missing = [m for m in ids if not (c.get(m) and c[m][1])]
        assert not missing, (lang, missing)


def formats_keep_their_conversions():
    for lang in LANGUAGES:
        for msgid, (_, msgstr) in ((k, v) for k, v in catalogue(lang).items() if k):
            conv = [c for c in ("%s", "%d") if c in msgid]
            assert [msgstr.count(c) for c in conv] == [msgid.count(c) for c in conv], \
                (lang, msgid, msgstr)


def words_shared_with_tokenctl_come_from_its_catalogue():
    # Not in the page's own .po: the same sentence as tokenctl's, translated once.
    for lang in LANGUAGES:
        with open(f"{PAGE}/po/{lang}.po", encoding="utf-8") as f:
            own = f.read()
        assert 'msgid "The PIN given is wrong."' not in own, lang
        assert catalogue(lang)["The PIN given is wrong."][1] != "The PIN given is wrong."


sys.exit(Tap([
    page_uses_words_from_its_sources,
    every_word_has_a_translation_in_each_language,
    formats_keep_their_conversions,
    words_shared_with_tokenctl_come_from_its_catalogue,
]).run())
