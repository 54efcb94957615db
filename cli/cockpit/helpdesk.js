// SPDX-License-Identifier: LGPL-2.1-or-later
// The helpdesk page: readers and tokens as tokend shows them, live; the unblock at the
// counter (staff give the application's reference, the holder types the new PIN); and the
// station's acts of the day from the audit trail.
/* global cockpit */
import {
    _, BAD_PIN, N_, certificateList, certificates, call, chosenLanguage, clearFields, connect,
    el, errorText, format, keepFocus, languageSwitch, newPinFields, newPinProblem, referenceValid,
    say, secret, secretValid, sortedTokens, stateText, triesText, useLanguage, watchProgress,
    STAGES,
} from "./tokend.js";

const $ = (id) => document.getElementById(id);
const certs = {}; // token path → its certificates, or an error text
let bus;
let unblocking = null; // the token being unblocked: { path, serial, min, max }
let panelSerial = null; // the token the unblock panel speaks of, its answer included

function pinRow(name, state, tries, source) {
    return el("tr", {},
              el("th", { scope: "row" }, name),
              el("td", { class: `state state-${state}` }, stateText(state)),
              el("td", {}, triesText(tries, source)));
}

function tokenCard(t) {
    const rows = [pinRow(_("User PIN"), t.UserPinState, t.UserPinRetries, t.UserPinRetriesSource)];
    if (t.HasPuk)
        rows.push(pinRow(_("PUK"), t.PukState, t.PukRetries, t.PukRetriesSource));
    rows.push(pinRow(_("SO PIN"), t.SoPinState, t.SoPinRetries, t.SoPinRetriesSource));
    const c = certs[t.path];
    const heading = format(_("Token %s"), t.Serial);
    return el("article", { class: "token", "data-serial": t.Serial, "aria-label": heading },
              el("h3", {}, heading, t.Label ? ` — ${t.Label}` : ""),
              el("p", { class: "meta" },
                 [t.Manufacturer, t.Model, t.Reader].filter(Boolean).join(" · ")),
              t.Busy ? el("p", { class: "busy" }, _("The card is working…")) : null,
              el("table", { class: "pins" },
                 el("caption", {}, _("PINs")),
                 el("thead", {}, el("tr", {},
                                    el("th", { scope: "col" }, _("Secret")),
                                    el("th", { scope: "col" }, _("State")),
                                    el("th", { scope: "col" }, _("Tries")))),
                 el("tbody", {}, rows)),
              el("h4", {}, _("Holder's certificates")),
              c === undefined ? el("p", {}, _("Reading…"))
                  : typeof c === "string" ? el("p", { class: "error" }, c)
                  : certificateList(c),
              el("button", {
                  type: "button",
                  class: "primary unblock",
                  "data-key": `unblock-${t.Serial}`,
                  // Not disabled, which would take the focus away: refused while it says so.
                  "aria-disabled": t.Busy || unblocking !== null ? "true" : null,
                  onclick: () => {
                      if (!t.Busy && unblocking === null)
                          openUnblock(t);
                  },
              }, _("Unblock…")));
}

function renderTokens() {
    const box = $("tokens");
    const list = sortedTokens(bus.tokens);
    keepFocus(box, () => box.replaceChildren(...(list.length ? list.map(tokenCard)
        : [el("p", { class: "empty" }, _("No token is present. Insert one in a reader."))])));
    for (const t of list)
        if (!(t.path in certs)) {
            certs[t.path] = undefined;
            certificates(bus.client, t.path)
                    .then((c) => { certs[t.path] = c })
                    .catch((e) => {
                        certs[t.path] = errorText(N_("Reading the certificates failed"), e);
                    })
                    .finally(renderTokens);
        }
    for (const p of Object.keys(certs))
        if (!list.some((t) => t.path === p))
            delete certs[p];
}

function renderReaders() {
    const body = $("readers").tBodies[0];
    const readers = Object.values(bus.readers).filter((r) => r.valid && r.Name !== undefined)
            .sort((a, b) => a.Name.localeCompare(b.Name));
    body.replaceChildren(...readers.map((r) => {
        const token = r.Token && r.Token !== "/" && bus.tokens[r.Token];
        const card = !r.CardPresent ? _("No card")
            : token ? format(_("Token %s"), token.Serial) : _("A card, not read yet");
        return el("tr", {}, el("td", {}, r.Name), el("td", {}, card));
    }));
}

function render() {
    renderTokens();
    renderReaders();
    if (panelSerial)
        $("unblock-title").textContent = format(_("Unblock token %s"), panelSerial);
}

function openUnblock(t) {
    panelSerial = t.Serial;
    unblocking = {
        path: t.path, serial: t.Serial, min: t.EffectiveMinPinLength, max: t.MaxPinLength,
    };
    say("unblock-result", "");
    $("unblock-progress").textContent = "";
    $("unblock").hidden = false;
    $("staff-step").hidden = false;
    $("holder-step").hidden = true;
    $("force-field").hidden = true;
    $("force").checked = false;
    render();
    $("reference").focus();
}

function closeUnblock() {
    clearFields($("so-pin"), $("new-pin"), $("new-pin-again"), $("reference"));
    const serial = unblocking && unblocking.serial;
    unblocking = null;
    panelSerial = null;
    $("unblock").hidden = true;
    render();
    const back = serial &&
        document.querySelector(`article[data-serial="${CSS.escape(serial)}"] button`);
    if (back)
        back.focus();
}

function unblockOptions(extra) {
    const o = { request: cockpit.variant("s", $("reference").value) };
    if ($("force").checked)
        o.force = cockpit.variant("b", true);
    return Object.assign(o, extra);
}

// Staff's step: the reference, checked here as tokend checks it, then by a dry run, which asks
// polkit too, before the holder types anything.
async function staffNext(ev) {
    ev.preventDefault();
    say("unblock-result", "");
    if (!referenceValid($("reference").value)) {
        say("unblock-result",
            () => _("The reference must be 1 to 64 printable characters, not blank."), true);
        $("reference").focus();
        return;
    }
    if ($("so-pin").value !== "" && !secretValid($("so-pin").value)) {
        say("unblock-result", BAD_PIN, true);
        $("so-pin").focus();
        return;
    }
    try {
        await call(bus.client, unblocking.path, "UnblockPin", "a{sv}",
                   [unblockOptions({ "dry-run": cockpit.variant("b", true) })]);
    } catch (e) {
        if (e.name === "org.tokend.Tokend1.Error.SoPinFinalTry")
            $("force-field").hidden = false;
        say("unblock-result", () => errorText(N_("Unblocking failed"), e), true);
        return;
    }
    $("staff-step").hidden = true;
    $("holder-step").hidden = false;
    $("pin-help").textContent = unblocking.max > 0
        ? format(_("%d to %d characters."), unblocking.min, unblocking.max) : "";
    $("new-pin").focus();
}

// The holder's step: the new PIN twice, then the unblock itself. The fields are cleared as
// soon as the call is built, whatever its answer.
async function holderDone(ev) {
    ev.preventDefault();
    const pin = $("new-pin"), again = $("new-pin-again"), so = $("so-pin");
    const problem = newPinProblem(pin, again);
    if (problem) {
        say("unblock-result", problem, true);
        pin.focus();
        return;
    }
    const secrets = { "new-pin": secret(pin.value) };
    if (so.value !== "")
        secrets["so-pin"] = secret(so.value);
    const args = [unblockOptions(secrets)];
    clearFields(pin, again, so);
    const { path, serial } = unblocking;
    $("holder-step").hidden = true;
    say("unblock-result", "");
    $("unblock-progress").textContent = _("The card is working…");
    const progress = watchProgress(bus.client, path, (stage) => {
        $("unblock-progress").textContent = STAGES[stage] ? _(STAGES[stage]) : stage;
    });
    try {
        await call(bus.client, path, "UnblockPin", "a{sv}", args);
        $("unblock-progress").textContent = "";
        say("unblock-result",
            () => format(_("PIN of token %s unblocked and set.\n"), serial).trim());
        clearFields($("reference"));
        unblocking = null;
        render();
    } catch (e) {
        $("unblock-progress").textContent = "";
        say("unblock-result", () => errorText(N_("Unblocking failed"), e), true);
        if (e.name === "org.tokend.Tokend1.Error.SoPinFinalTry")
            $("force-field").hidden = false;
        $("staff-step").hidden = false;
        $("so-pin").focus();
    } finally {
        progress.remove();
        loadAudit();
    }
}

function auditFile() {
    const m = cockpit.manifests && cockpit.manifests.tokend;
    return (m && m.config && m.config["audit-file"]) || "";
}

// The day's acts from the audit trail, as tokenctl lists them (who by name, intent and outcome
// as one act). Reading the trail takes membership of tokend-audit.
function loadAudit() {
    const file = auditFile();
    const argv = ["tokenctl", "--json", "audit", "list", ...(file ? [file] : []),
        "--since", "today"];
    const body = $("audit").tBodies[0];
    cockpit.spawn(argv, { err: "message" }).then((out) => {
        const acts = JSON.parse(out);
        say("audit-status", () => acts.length ? "" : _("Nothing recorded today."));
        body.replaceChildren(...acts.map((a) => el("tr", { class: `result-${a.result}` },
            el("td", {}, new Date(a["time-usec"] / 1000)
                    .toLocaleTimeString(document.documentElement.lang)),
            el("td", {}, a.user || String(a.uid)),
            el("td", {}, a.operation),
            el("td", {}, a.serial || ""),
            el("td", {}, a.request || ""),
            el("td", {}, a.error ? `${a.result} (${a.error})` : a.result))));
    }, (ex, out) => {
        let message = cockpit.message(ex);
        try {
            message = JSON.parse(out).error.message;
        } catch (e) { /* tokenctl could not say */ }
        body.replaceChildren();
        say("audit-status", () => format(_("Cannot read the audit trail: %s"), message), true);
    });
}

async function start() {
    await useLanguage(chosenLanguage(), false);
    languageSwitch($("lang"), () => { render(); loadAudit() });
    newPinFields($("holder-pins"));
    bus = connect(render);
    $("staff-step").addEventListener("submit", staffNext);
    $("holder-step").addEventListener("submit", holderDone);
    for (const b of document.querySelectorAll("#unblock .cancel"))
        b.addEventListener("click", closeUnblock);
    document.addEventListener("keydown", (ev) => {
        if (ev.key === "Escape" && unblocking)
            closeUnblock();
    });
    $("audit-refresh").addEventListener("click", loadAudit);
    bus.client.wait().then(() => say("status", ""),
                           (e) => say("status", () => errorText(N_("Cannot reach tokend"), e),
                                      true));
    render();
    loadAudit();
}

start();
