// SPDX-License-Identifier: LGPL-2.1-or-later
// What both pages share: the language, tokend on the system bus, and the words for its states
// and refusals. The pages call tokend as the user logged in to Cockpit, so polkit decides by
// that user's own uid and groups (docs/cockpit.md).
/* global cockpit */

export const BUS_NAME = "org.tokend.Tokend1";
export const ROOT = "/org/tokend/Tokend1";
export const TOKEN = "org.tokend.Tokend1.Token";
export const READER = "org.tokend.Tokend1.Reader";
export const ERROR = "org.tokend.Tokend1.Error.";

// Every call waits as long as tokend lets the token work on it (api.md, "Method timeouts") and
// 5 minutes more for polkit and the calls ahead of it, as tokenctl does.
const CALL_TIMEOUT_MS = (60 + 300) * 1000;

export const _ = (msgid) => cockpit.gettext(msgid);
// Marks a word for the catalogue where it is translated later (a table of meanings).
export const N_ = (msgid) => msgid;

// printf's %s and %d, in order, as the catalogues of tokenctl write them.
export function format(fmt, ...args) {
    let i = 0;
    return fmt.replace(/%[sdc]/g, () => String(args[i++]));
}

// The languages with a catalogue (po.LL.json beside the page), by the browser's tags.
export const LANGUAGES = [
    { code: "en", tag: "en", name: "English" },
    { code: "zh_TW", tag: "zh-Hant-TW", name: "繁體中文" },
    { code: "pt", tag: "pt", name: "Português" },
];
const STORE_KEY = "tokend-language";

function fromTag(tag) {
    const t = tag.toLowerCase();
    if (t === "zh-tw" || t === "zh-hk" || t === "zh-mo" || t.startsWith("zh-hant"))
        return "zh_TW";
    if (t === "pt" || t.startsWith("pt-"))
        return "pt";
    if (t === "en" || t.startsWith("en-"))
        return "en";
    return null;
}

// The language chosen on the page before, else the first of the browser's that has a catalogue.
export function chosenLanguage() {
    const asked = new URLSearchParams(window.location.search).get("lang");
    if (asked && LANGUAGES.some((l) => l.code === asked))
        return asked;
    try {
        const stored = window.localStorage.getItem(STORE_KEY);
        if (stored && LANGUAGES.some((l) => l.code === stored))
            return stored;
    } catch (e) { /* storage off: the browser's language */ }
    for (const tag of navigator.languages || [navigator.language || "en"]) {
        const code = fromTag(tag);
        if (code)
            return code;
    }
    return "en";
}

// Loads code's catalogue into cockpit.gettext and translates every element that carries its
// English words in data-i18n (in the HTML, its own text).
export async function useLanguage(code, remember) {
    cockpit.locale(null);
    if (code !== "en") {
        const reply = await fetch(`po.${code}.json`);
        if (reply.ok)
            cockpit.locale(await reply.json());
    }
    const lang = LANGUAGES.find((l) => l.code === code) || LANGUAGES[0];
    document.documentElement.lang = lang.tag;
    for (const el of document.querySelectorAll("[data-i18n]")) {
        if (!el.dataset.i18n)
            el.dataset.i18n = el.textContent.replace(/\s+/g, " ").trim();
        el.textContent = _(el.dataset.i18n);
    }
    for (const id of Object.keys(messages))
        sayAgain(id);
    const title = document.querySelector("h1");
    if (title)
        document.title = title.textContent;
    if (remember) {
        try {
            window.localStorage.setItem(STORE_KEY, code);
        } catch (e) { /* not remembered */ }
    }
}

// The language switch, into box: a labelled <select> of the languages, each in its own words.
export function languageSwitch(box, onChange) {
    const select = el("select", { id: "language" }, LANGUAGES.map((l) =>
        el("option", { value: l.code, lang: l.tag }, l.name)));
    box.replaceChildren(el("label", { for: "language", "data-i18n": "Language" }, _("Language")),
                        select);
    select.value = chosenLanguage();
    select.addEventListener("change", async () => {
        await useLanguage(select.value, true);
        onChange();
    });
}

// The page's messages, each kept as a function of the language so that a switch says it again.
const messages = {};

function sayAgain(id) {
    const m = messages[id];
    const p = document.getElementById(id);
    p.textContent = typeof m.words === "function" ? m.words() : m.words;
    p.className = m.isError ? "error" : "ok";
}

// Shows words (a string, or a function giving them in the page's language) in element id.
export function say(id, words, isError) {
    messages[id] = { words, isError };
    sayAgain(id);
}

// el()'s children without the ones left out (null, false), as replaceChildren() takes them.
export function present(...children) {
    return children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false);
}

// Runs build(), which redraws box, and gives the focus back to the control that had it (the
// one with the same data-key or id), so that a keyboard user is not thrown out of the page
// whenever a token's properties change.
export function keepFocus(box, build) {
    const a = document.activeElement;
    const key = a && box.contains(a) ? a.dataset.key || a.id : null;
    build();
    if (!key)
        return;
    const again = box.querySelector(`[data-key="${CSS.escape(key)}"]`) ||
        document.getElementById(key);
    if (again)
        again.focus();
}

export function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
        if (k === "class")
            e.className = v;
        else if (k.startsWith("on"))
            e.addEventListener(k.slice(2), v);
        else if (v !== null && v !== undefined && v !== false)
            e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of present(...children))
        e.append(c instanceof Node ? c : String(c));
    return e;
}

// tokend on the system bus: its tokens and readers as proxies that follow the ObjectManager's
// signals and PropertiesChanged, with no polling.
export function connect(onChange) {
    const client = cockpit.dbus(BUS_NAME, { bus: "system" });
    const tokens = client.proxies(TOKEN, ROOT);
    const readers = client.proxies(READER, ROOT);
    for (const set of [tokens, readers])
        for (const ev of ["added", "changed", "removed"])
            set.addEventListener(ev, onChange);
    return { client, tokens, readers };
}

export function sortedTokens(tokens) {
    return Object.values(tokens).filter((p) => p.valid && p.Serial !== undefined)
            .sort((a, b) => String(a.Serial).localeCompare(String(b.Serial)));
}

export function call(client, path, method, signature, args) {
    return client.call(path, TOKEN, method, args, { type: signature, timeout: CALL_TIMEOUT_MS });
}

// A secret as the API takes it: its UTF-8 bytes (ay, which cockpit's bridge takes in base64).
export function secret(text) {
    return cockpit.variant("ay", cockpit.base64_encode(new TextEncoder().encode(text)));
}

const CONTROL = /[\p{Cc}\p{Cs}]/u;
// What glibc's iswprint() refuses besides those: the line and paragraph separators and the
// characters Unicode has not assigned.
const NOT_PRINTABLE = /[\p{Cc}\p{Cs}\p{Cn}\u2028\u2029]/u;
// What glibc's iswspace() calls a space, which is what "blank" means to tokend: not the
// no-break spaces (U+00A0, U+2007, U+202F).
const BLANK = /^[\t\n\v\f\r \u1680\u2000-\u2006\u2008-\u200a\u2028\u2029\u205f\u3000]*$/u;

// The rule tokend holds a secret to (api.md, "Options"): 1 to 64 bytes of UTF-8, no control
// characters.
export function secretValid(text) {
    const n = new TextEncoder().encode(text).length;
    return n >= 1 && n <= 64 && !CONTROL.test(text);
}

// The rule tokend holds the unlock application's reference to: 1 to 64 printable characters,
// not blank (tk_text_check).
export function referenceValid(text) {
    const chars = [...text].length;
    return chars >= 1 && chars <= 64 && !NOT_PRINTABLE.test(text) && !BLANK.test(text);
}

// Kept in English in the source, translated where shown.
export const STATES = {
    ok: N_("OK"),
    "count-low": N_("Few tries left"),
    "final-try": N_("Final try"),
    locked: N_("Locked"),
    "to-be-changed": N_("Must be changed"),
};
export const SOURCES = {
    card: N_("counted by the card"),
    flags: N_("from the token's flags"),
    ledger: N_("counted by tokend"),
    unknown: N_("source unknown"),
};

export function stateText(state) {
    return STATES[state] ? _(STATES[state]) : String(state);
}

export function triesText(tries, source) {
    const count = tries >= 0 ? format(_("%d tries left"), tries) : _("Tries left unknown");
    return `${count} (${SOURCES[source] ? _(SOURCES[source]) : String(source)})`;
}

// What each of tokend's refusals means, in the words of tokenctl's messages (cli/context.c):
// the same sentences, from the same catalogues.
const MEANINGS = {
    [ERROR + "PinIncorrect"]: N_("The PIN given is wrong."),
    [ERROR + "PinLocked"]: N_("The PIN is locked."),
    [ERROR + "PinPolicy"]: N_("The new PIN does not meet the PIN policy."),
    [ERROR + "PinFinalTry"]: N_("The PIN is on its final try."),
    [ERROR + "SoPinFinalTry"]: N_("The SO PIN/PUK is on its final try: check the paperwork."),
    [ERROR + "TokenRemoved"]: N_("The token was removed."),
    [ERROR + "TokenNotFound"]: N_("No such token."),
    [ERROR + "Unsupported"]: N_("The token cannot do this."),
    [ERROR + "InvalidArgument"]: N_("A value is missing or not valid."),
    [ERROR + "Busy"]: N_("The token is busy; try again shortly."),
    [ERROR + "SerialConflict"]: N_("Another present token has the same serial number."),
    [ERROR + "Timeout"]: N_("The operation took too long."),
    [ERROR + "Failed"]: N_("The operation failed."),
    "org.freedesktop.DBus.Error.AccessDenied": N_("Not authorised."),
    "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired": N_("Not authorised."),
};

// what (already in English, e.g. "Unblocking failed") and the bus error, as tokenctl says it:
// "what: meaning (tokend: tokend's own message)".
export function errorText(what, error) {
    const name = (error && error.name) || "";
    const message = (error && error.message) || String(error);
    if (name === "org.freedesktop.DBus.Error.ServiceUnknown" ||
        name === "org.freedesktop.DBus.Error.NameHasNoOwner")
        return format(_("%s: tokend is not running (start tokend.service)."), _(what));
    if (MEANINGS[name])
        return format(_("%s: %s (tokend: %s)"), _(what), _(MEANINGS[name]), message);
    return format("%s: %s", _(what), message);
}

// The holder's certificates (a CA's left out) with when each expires, from ListObjects without
// a PIN: certificates are public objects.
export async function certificates(client, path) {
    const [objects] = await call(client, path, "ListObjects", "a{sv}", [{}]);
    return objects.filter((o) => o.class.v === "certificate" && !(o.ca && o.ca.v))
            .map((o) => ({
                label: o.label ? o.label.v : "",
                subject: o.subject ? o.subject.v : "",
                notAfter: o["not-after"] ? Number(o["not-after"].v) : 0,
            }));
}

// Within this many days of its end a certificate is shown with a warning.
export const EXPIRY_WARNING_DAYS = 30;

export function expiryText(notAfter, now = Date.now()) {
    const date = new Date(notAfter * 1000).toLocaleDateString(document.documentElement.lang);
    const days = Math.floor((notAfter * 1000 - now) / 86400000);
    if (days < 0)
        return { warn: true, text: format(_("Expired on %s"), date) };
    if (days <= EXPIRY_WARNING_DAYS)
        return { warn: true, text: format(_("Expires on %s, in %d days: renew it"), date, days) };
    return { warn: false, text: format(_("Valid until %s"), date) };
}

export function certificateList(certs) {
    if (certs.length === 0)
        return el("p", {}, _("No certificates on the token."));
    return el("ul", { class: "certs" }, certs.map((c) => {
        const e = expiryText(c.notAfter);
        return el("li", { class: e.warn ? "cert warn" : "cert" },
                  el("span", { class: "cert-name" }, c.subject || c.label),
                  " ",
                  el("span", { class: "cert-expiry" }, e.warn ? "⚠ " : "", e.text));
    }));
}

// Progress(operation, stage) of one token while a call runs on it.
export function watchProgress(client, path, onStage) {
    return client.subscribe({ interface: TOKEN, path, member: "Progress" },
                            (p, iface, signal, args) => onStage(args[1]));
}

export const STAGES = {
    started: N_("Started"),
    running: N_("The card is working…"),
    done: N_("Done"),
};

// The holder's new PIN, typed twice in password fields (#new-pin, #new-pin-again; #pin-help
// says the length), into box.
export function newPinFields(box) {
    const field = (id, msgid, extra) => el("div", { class: "field" },
        el("label", { for: id, "data-i18n": msgid }, _(msgid)),
        el("input", Object.assign({ id, type: "password", autocomplete: "new-password" }, extra)));
    box.replaceChildren(
        field("new-pin", "New user PIN", { "aria-describedby": "pin-help" }),
        el("p", { id: "pin-help", class: "help" }),
        field("new-pin-again", "New user PIN, again"));
}

// What is wrong with the new PIN typed twice (the fields emptied then), for say(); or null.
export function newPinProblem(pin, again) {
    if (pin.value !== again.value) {
        clearFields(pin, again);
        return () => _("The two PINs differ. Type the new PIN again.");
    }
    if (!secretValid(pin.value)) {
        clearFields(pin, again);
        return BAD_PIN;
    }
    return null;
}

export const BAD_PIN = () => _("A PIN is 1 to 64 bytes without control characters.");

export function clearFields(...inputs) {
    for (const i of inputs)
        i.value = "";
}
