#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Cockpit page in a real browser: cockpit-ws on loopback as a helpdesk and as a kiosk user
(its bridge calls this test's private system bus, with a real polkitd and the shipped role
rules), tokend on a simulated MyEID card, and headless Chromium driven through WebDriver.

What a person at the counter or the kiosk would check, checked against the card's own counters
(tokend-sim's control socket) and OpenSC's pkcs11-tool: the card listed with its state and
certificate, live; an unblock refused with tokenctl's words; an unblock with a reference and a
new PIN typed in the page; the day's audit lines; the kiosk's PIN change by keyboard alone and
no unblock there; each language's title; labels and contrast. Screenshots of both views in each
language, and of the holder's step of an unblock, go to meson-logs/cockpit/."""

import json
import os
import shutil
import subprocess
import sys

from browser_env import ENTER, TAB, Browser, CockpitWs, missing_programs
from card_env import CardEnv, gvariant_options, need_cards, options
from polkit_env import POLKIT_BUS_CONF, POLKITD, Users, shipped_rules_off_seat, start_polkitd
from tap import Tap, skip
from tokend_env import issue_with_test_ca

SOURCE = os.environ["TOKEND_SOURCE_DIR"]
BUILD = os.environ["TOKEND_BUILD_DIR"]
PACKAGE = os.environ["COCKPIT_PACKAGE"]
TOKENCTL = os.environ["TOKENCTL"]
SHOTS = os.environ.get("COCKPIT_SCREENSHOTS") or f"{BUILD}/meson-logs/cockpit"

need_cards()
missing = missing_programs() + [p for p in (POLKITD, POLKIT_BUS_CONF, "setpriv")
                                if not shutil.which(p) and not os.path.exists(p)]
if missing:
    # CI installs them (.ci/install-deps): there, a missing one is a failure, not a skip.
    if os.environ.get("CI"):
        print(f"Bail out! not installed: {', '.join(missing)}")
        sys.exit(1)
    skip(f"not installed: {', '.join(missing)}")

TITLES = {
    "helpdesk": {"en": "Smart tokens: helpdesk", "zh_TW": "智慧權杖：服務台",
                 "pt": "Tokens inteligentes: apoio ao balcão"},
    "kiosk": {"en": "Your smart token", "zh_TW": "您的智慧權杖",
              "pt": "O seu token inteligente"},
}
LANG_TAGS = {"en": "en", "zh_TW": "zh-Hant-TW", "pt": "pt"}
WRONG_PUK = "99999999"
UNBLOCK_PIN = "583920"
KIOSK_PIN = "740215"
HOLDER = "CN=Ana Lima,O=Agency"

users = Users()
env = None
ws = {}
browsers = {}
state = {}


def setup():
    global env
    helpdesk = users.user("tokend-ck-helpdesk", groups=("tokend-helpdesk", "tokend-audit"))
    kiosk = state["kiosk"] = users.user("tokend-ck-kiosk", groups=("tokend-kiosk",))
    env = CardEnv(label="cockpit card", extra_policies=(POLKIT_BUS_CONF,),
                  audit_group="tokend-audit")
    d = env.daemon
    os.chmod(d.dir, 0o755)  # the bus socket and the trail's directory, for the page's users
    start_polkitd(d, SOURCE, rules_text=shipped_rules_off_seat(SOURCE))
    holder_certificate()
    # The package as installed, from the build tree, where those users can read it.
    shared = d.other_users_dir()
    shutil.copytree(PACKAGE, f"{shared}/data/cockpit/tokend")
    for root, dirs, files in os.walk(f"{shared}/data"):
        for n in dirs + files:
            os.chmod(os.path.join(root, n), 0o755 if n in dirs else 0o644)
    d.copy_for_other_users(TOKENCTL)
    # The helpdesk page is told where this tokend's audit trail is by an override of the
    # manifest, as docs/cockpit.md tells a site to do (there in /etc/cockpit).
    override = f"{shared}/home-helpdesk/config/cockpit"
    os.makedirs(override)
    with open(f"{override}/tokend.override.json", "w") as f:
        json.dump({"config": {"audit-file": d.audit_file}}, f)
    for role, user in (("helpdesk", helpdesk), ("kiosk", kiosk)):
        ws[role] = CockpitWs(user, f"{shared}/data", f"{shared}/home-{role}", d.env,
                             path_dirs=[shared])
    state["serial"] = env.prop("Serial")
    os.makedirs(SHOTS, exist_ok=True)


def holder_certificate():
    """An EC key on the card and a certificate for it from a test CA, valid for 30 days: one
    the page must warn about."""
    pin = env.sim.pin.encode()
    key_id = bytes(env.call("GenerateKeyPair", "sa{sv}", "ec-p256",
                            *options(pin=pin, label="holder"))[0])
    pem = env.call("CreateRequest", "aysa{sv}", len(key_id), *key_id, HOLDER,
                   *options(pin=pin))[0]
    with open(f"{env.daemon.dir}/holder.req", "w") as f:
        f.write(pem)
    cert, ca = issue_with_test_ca(env.daemon.dir, "holder.req", "/CN=Cockpit Test CA")
    env.call("ImportCertificate", "aya{sv}", len(cert), *cert, *options(pin=pin, chain=[ca]))


def browser(role, languages):
    if role in browsers:
        browsers[role].close()
    b = browsers[role] = Browser(languages)
    b.go(ws[role].page("tokend", "index.html" if role == "helpdesk" else "kiosk.html"))
    return b


def switch_language(b, code):
    """The page's own switch, as a person chooses from it."""
    b.js("const s = document.getElementById('language'); s.focus(); s.value = arguments[0];"
         "s.dispatchEvent(new Event('change'));", code)
    b.wait("return document.documentElement.lang === arguments[0]", 10, f"language {code}",
           LANG_TAGS[code])


def token_text(b):
    return b.text(f'article[data-serial="{state["serial"]}"]') or ""


def wait_text(b, css, needle, timeout=30):
    return b.wait("const e = document.querySelector(arguments[0]);"
                  "return e && e.innerText.includes(arguments[1]) ? e.innerText : null;",
                  timeout, f"{needle!r} in {css}", css, needle)


# Every text the unblock's progress line shows, in order.
PROGRESS_JS = """
window.progressSeen = [];
const p = document.getElementById('unblock-progress');
new MutationObserver(() => window.progressSeen.push(p.textContent))
    .observe(p, {childList: true, characterData: true, subtree: true});
"""


def no_password_kept(b):
    values = b.js("return [...document.querySelectorAll('input[type=password]')]"
                  ".map(i => i.value)")
    assert values and all(v == "" for v in values), "a PIN stayed in a password field"


# Every control has a name a screen reader says: its label, aria-label or text.
LABELS_JS = """
const bad = [];
for (const e of document.querySelectorAll('input, select, button, textarea')) {
    const label = e.id && document.querySelector(`label[for="${e.id}"]`);
    const name = e.getAttribute('aria-label') || (label && label.textContent.trim()) ||
        (e.tagName === 'BUTTON' && e.textContent.trim());
    if (!name) bad.push(e.outerHTML.slice(0, 120));
}
return bad;
"""

# WCAG 2 contrast of each visible text against the background it is drawn on: 4.5:1, 3:1 for
# large text (24 px, or 18.66 px bold).
CONTRAST_JS = """
const rgb = (c) => c.match(/[\\d.]+/g).map(Number);
const lum = ([r, g, b]) => [r, g, b].map(v => v / 255)
    .map(v => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4)
    .reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
const background = (e) => {
    for (; e; e = e.parentElement) {
        const c = rgb(getComputedStyle(e).backgroundColor);
        if (c.length < 4 || c[3] > 0) return c.slice(0, 3);
    }
    return [255, 255, 255];
};
const bad = [];
let checked = 0;
for (const e of document.querySelectorAll('body *')) {
    if (![...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
    if (!e.offsetParent && getComputedStyle(e).position !== 'fixed') continue;
    const s = getComputedStyle(e);
    const a = lum(rgb(s.color)), b = lum(background(e));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const size = parseFloat(s.fontSize), bold = Number(s.fontWeight) >= 700;
    const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    checked++;
    if (ratio < need)
        bad.push(`${e.tagName}.${e.className} "${e.textContent.trim().slice(0, 30)}" ` +
                 ratio.toFixed(2));
}
return {checked, bad};
"""


def labels_and_contrast(b):
    assert b.js(LABELS_JS) == [], b.js(LABELS_JS)
    result = b.js(CONTRAST_JS)
    assert result["checked"] > 5 and result["bad"] == [], result


def helpdesk_page_follows_the_browser_language():
    b = browser("helpdesk", "pt-PT,pt")
    b.wait("return document.querySelector('h1').textContent === arguments[0]", 20,
           "the Portuguese title", TITLES["helpdesk"]["pt"])
    assert b.js("return document.title") == TITLES["helpdesk"]["pt"]
    wait_text(b, "#tokens", "Token " + state["serial"])
    switch_language(b, "en")


def helpdesk_lists_the_card_with_its_state():
    b = browsers["helpdesk"]
    tries, max_tries, puk, puk_max = env.counters(1)
    assert tries == max_tries
    text = wait_text(b, f'article[data-serial="{state["serial"]}"]', "Ana Lima")
    assert f"{max_tries} tries left (counted by the card)" in text, text
    for row in ("User PIN", "PUK", "SO PIN"):
        assert row in text, (row, text)
    # The certificate ends in 30 days: the page says when, and to renew it.
    assert "renew it" in text and "⚠" in text, text
    assert "Cockpit Test CA" not in text, text  # the CA's own certificate is not the holder's
    assert "Virtual PCD" in b.text("#readers"), b.text("#readers")


def locked_card_shows_locked_without_reloading():
    b = browsers["helpdesk"]
    b.js("window.notReloaded = true; document.querySelector('button.unblock').focus()")
    for _ in range(env.counters(1)[0]):
        err = env.call_error("ChangePin", "'user'",
                             gvariant_options(pin=b"000000", new_pin=b"406172", force=True))
        assert err and err[0] == "org.tokend.Tokend1.Error.PinIncorrect", err
    assert env.counters(1)[0] == 0
    text = wait_text(b, f'article[data-serial="{state["serial"]}"]', "Locked")
    assert "0 tries left (counted by the card)" in text, text
    assert b.js("return window.notReloaded === true"), "the page reloaded to see the change"
    # The redraw kept the keyboard where it was.
    assert b.js("return document.activeElement.classList.contains('unblock')"), b.focused()


def reference_checked_as_tokend_does_before_anything_is_asked():
    b = browsers["helpdesk"]
    before = env.counters(1)
    b.click(f'article[data-serial="{state["serial"]}"] button.unblock')
    b.wait("return document.activeElement.id === 'reference'", 10, "focus on the reference")
    b.keys("   " + ENTER)
    wait_text(b, "#unblock-result", "must be 1 to 64 printable characters, not blank")
    assert b.js("return document.getElementById('holder-step').hidden")
    assert env.counters(1) == before


def reference_rule_of_the_page_is_tokends():
    """The page's own check of a reference says what tokend's says (a dry run), case by case."""
    b = browsers["helpdesk"]
    cases = ["ULA-1", "   ", "", "a\tb", "x" * 64, "x" * 65, "字" * 64, "字" * 65, "ré f",
             "a\u0085b", "\u00a0",
             "\u3000", "\u2028", "a\u2028b", "\u200b", "a\u0378", "\ue000", "a\U0001f600"]
    page = b.js_async("import('./tokend.js').then(m => done(arguments[0].map(m.referenceValid)))",
                      cases)
    bad = []
    for case, verdict in zip(cases, page):
        err = env.call_error("UnblockPin", gvariant_options(request=case, dry_run=True))
        refused = bool(err) and err[0] == "org.tokend.Tokend1.Error.InvalidArgument" and \
            "request" in err[1]
        if verdict != (not refused):
            bad.append((case, verdict, err))
    assert not bad, bad


def refused_unblock_shows_tokenctls_message():
    b = browsers["helpdesk"]
    tries, max_tries, puk, puk_max = env.counters(1)
    b.js("document.getElementById('reference').value = ''")
    b.type("#reference", "ULA-2026-0416")
    b.type("#so-pin", WRONG_PUK)
    b.keys(ENTER)
    b.wait("return document.activeElement.id === 'new-pin'", 10, "the holder's step")
    b.keys(UNBLOCK_PIN + TAB + UNBLOCK_PIN + ENTER)
    text = wait_text(b, "#unblock-result", "Unblocking failed: The PIN given is wrong. (tokend:")
    assert f"{puk_max - 1} tries left" in text, text
    assert env.counters(1) == (0, max_tries, puk_max - 1, puk_max), env.counters(1)
    no_password_kept(b)
    # Staff's step again, the reference kept, for the right PUK.
    assert not b.js("return document.getElementById('staff-step').hidden")


def unblock_with_reference_and_new_pin_typed_in_the_page():
    b = browsers["helpdesk"]
    b.js("document.getElementById('reference').value = ''")
    b.type("#reference", "ULA-2026-0417")
    b.type("#so-pin", env.sim.puk)
    b.keys(ENTER)
    b.wait("return document.activeElement.id === 'new-pin'", 10, "the holder's step")
    # A slow card, to see the page follow its Progress signals while it works.
    b.js(PROGRESS_JS)
    env.card.delay(100)
    try:
        b.keys(UNBLOCK_PIN + TAB + UNBLOCK_PIN)
        # What the staff member sees while the holder types: dots.
        assert b.js("return [...document.querySelectorAll('#holder-step input')]"
                    ".every(i => i.type === 'password')")
        b.screenshot(f"{SHOTS}/helpdesk-holder-step-en.png")
        b.keys(ENTER)
        wait_text(b, "#unblock-result", f"PIN of token {state['serial']} unblocked and set.")
    finally:
        env.card.delay(0)
    seen = b.js("return window.progressSeen")
    assert "Started" in seen and "The card is working…" in seen, seen
    tries, max_tries, puk, puk_max = env.counters(1)
    assert (tries, puk) == (max_tries, puk_max), env.counters(1)
    assert env.login_works(UNBLOCK_PIN)
    text = wait_text(b, f'article[data-serial="{state["serial"]}"]', "OK")
    assert f"{max_tries} tries left" in text, text
    no_password_kept(b)


def todays_audit_lines_show_who_which_token_reference_and_result():
    b = browsers["helpdesk"]
    text = wait_text(b, "#audit", "ULA-2026-0417")
    rows = b.js("return [...document.querySelectorAll('#audit tbody tr')]"
                ".map(r => [...r.cells].map(c => c.innerText))")
    serial = state["serial"]
    assert ["tokend-ck-helpdesk", "unblock-pin", serial, "ULA-2026-0417", "ok"] in \
        [r[1:] for r in rows], rows
    assert ["tokend-ck-helpdesk", "unblock-pin", serial, "ULA-2026-0416",
            "failed (PinIncorrect)"] in [r[1:] for r in rows], rows
    for secret in (env.sim.puk, WRONG_PUK, UNBLOCK_PIN):
        assert secret not in text


def helpdesk_labels_and_contrast_pass():
    labels_and_contrast(browsers["helpdesk"])


def helpdesk_screenshots_in_each_language():
    b = browsers["helpdesk"]
    for code in ("en", "zh_TW", "pt"):
        switch_language(b, code)
        assert b.js("return document.querySelector('h1').textContent") == \
            TITLES["helpdesk"][code]
        b.wait("return document.querySelector('#tokens .certs')", 10, "the certificates read")
        labels_and_contrast(b)
        b.screenshot(f"{SHOTS}/helpdesk-{code}.png")
    browsers.pop("helpdesk").close()


def kiosk_page_follows_the_browser_language():
    b = browser("kiosk", "zh-TW,zh")
    b.wait("return document.querySelector('h1').textContent === arguments[0]", 20,
           "the Chinese title", TITLES["kiosk"]["zh_TW"])
    wait_text(b, "#token", state["serial"])
    switch_language(b, "en")


def kiosk_shows_no_unblock_and_cannot_unblock():
    b = browsers["kiosk"]
    text = wait_text(b, "#token", "Ana Lima")
    assert "Change PIN" in text, text
    page = b.text("body")
    assert "nblock" not in page and "PUK" not in page and "SO PIN" not in page, page
    assert b.js("return document.querySelectorAll('button.unblock, #unblock, #reference')"
                ".length") == 0
    with open(f"{PACKAGE}/kiosk.js") as f:
        assert "UnblockPin" not in f.read()
    # Not from the page, and not by the kiosk account on the bus either: polkit says no.
    kiosk = state["kiosk"]
    p = subprocess.run(["setpriv", f"--reuid={kiosk}", f"--regid={kiosk}", "--init-groups",
                        "gdbus", "call", "--address", env.daemon.address, "--dest",
                        "org.tokend.Tokend1", "--object-path", env.path, "--method",
                        "org.tokend.Tokend1.Token.UnblockPin", "--",
                        gvariant_options(request="ULA-1", so_pin=b"12345678",
                                                         new_pin=b"815263")],
                       capture_output=True, text=True, env=env.daemon.env,
                       cwd=env.daemon.other_users_dir())
    assert p.returncode != 0 and "AccessDenied" in p.stderr, p.stderr


def kiosk_changes_the_pin_by_keyboard_alone_with_no_password_prompt():
    b = browsers["kiosk"]
    b.js("document.activeElement.blur(); window.scrollTo(0, 0)")
    for _ in range(12):
        if b.focused() == "change-open":
            break
        b.keys(TAB)
    assert b.focused() == "change-open", b.focused()
    b.keys(ENTER)
    b.wait("return document.activeElement.id === 'pin'", 10, "the current PIN's field")
    b.keys(UNBLOCK_PIN + TAB + KIOSK_PIN + TAB + KIOSK_PIN + ENTER)
    wait_text(b, "#result", f"User PIN changed on token {state['serial']}.")
    tries, max_tries, _, _ = env.counters(1)
    assert tries == max_tries, env.counters(1)
    assert env.login_works(KIOSK_PIN)
    no_password_kept(b)


def kiosk_screenshots_in_each_language():
    b = browsers["kiosk"]
    for code in ("en", "zh_TW", "pt"):
        switch_language(b, code)
        assert b.js("return document.querySelector('h1').textContent") == TITLES["kiosk"][code]
        labels_and_contrast(b)
        b.screenshot(f"{SHOTS}/kiosk-{code}.png")
    print(f"# screenshots in {SHOTS}")


def close():
    for b in list(browsers.values()):
        b.close()
    for w in ws.values():
        w.close()
    if env:
        env.close()
    users.close()


try:
    setup()
    status = Tap([
        helpdesk_page_follows_the_browser_language,
        helpdesk_lists_the_card_with_its_state,
        locked_card_shows_locked_without_reloading,
        reference_checked_as_tokend_does_before_anything_is_asked,
        reference_rule_of_the_page_is_tokends,
        refused_unblock_shows_tokenctls_message,
        unblock_with_reference_and_new_pin_typed_in_the_page,
        todays_audit_lines_show_who_which_token_reference_and_result,
        helpdesk_labels_and_contrast_pass,
        helpdesk_screenshots_in_each_language,
        kiosk_page_follows_the_browser_language,
        kiosk_shows_no_unblock_and_cannot_unblock,
        kiosk_changes_the_pin_by_keyboard_alone_with_no_password_prompt,
        kiosk_screenshots_in_each_language,
    ]).run()
finally:
    close()
sys.exit(status)
