// SPDX-License-Identifier: LGPL-2.1-or-later
// The kiosk page, full-screen at a self-service terminal: the holder's token, its PIN state and
// certificates in large type, and "Change PIN". Nothing else is shown or called.
/* global cockpit */
import {
    _, BAD_PIN, N_, certificateList, certificates, call, chosenLanguage, clearFields, connect,
    el, errorText, format, keepFocus, languageSwitch, newPinFields, newPinProblem, present, say,
    secret, secretValid, sortedTokens, stateText, triesText, useLanguage, watchProgress, STAGES,
} from "./tokend.js";

const $ = (id) => document.getElementById(id);
let bus;
let shown = null; // the path of the token on the screen
let certs;
let changing = false;

function current() {
    return sortedTokens(bus.tokens)[0] || null;
}

function endChange() {
    clearFields($("pin"), $("new-pin"), $("new-pin-again"));
    changing = false;
    $("change").hidden = true;
}

function render() {
    const t = current();
    const box = $("token");
    if (!t || t.path !== shown) {
        // Another holder's token, or none: nothing of the last one stays on the screen.
        endChange();
        say("result", "");
        shown = t && t.path;
        certs = undefined;
        if (t)
            certificates(bus.client, t.path)
                    .then((c) => c, (e) => errorText(N_("Reading the certificates failed"), e))
                    .then((c) => { if (shown === t.path) certs = c })
                    .finally(render);
    }
    if (!t) {
        box.replaceChildren(el("p", { class: "insert" }, _("Insert your token.")));
        return;
    }
    const locked = t.UserPinState === "locked";
    keepFocus(box, () => box.replaceChildren(...present(
        el("h2", {}, format(_("Token %s"), t.Serial), t.Label ? ` — ${t.Label}` : ""),
        el("p", { class: `pin-state state-${t.UserPinState}` },
           format(_("Your PIN: %s"), stateText(t.UserPinState)), " — ",
           triesText(t.UserPinRetries, t.UserPinRetriesSource)),
        locked ? el("p", { class: "advice" },
                    _("Your PIN is locked. Ask at the counter to have it unblocked.")) : null,
        t.Busy ? el("p", { class: "busy" }, _("The card is working…")) : null,
        el("h3", {}, _("Your certificates")),
        certs === undefined ? el("p", {}, _("Reading…"))
            : typeof certs === "string" ? el("p", { class: "error" }, certs)
            : certificateList(certs),
        locked || changing ? null
            : el("button", {
                type: "button", id: "change-open", class: "primary",
                "aria-disabled": t.Busy ? "true" : null,
                onclick: () => {
                    if (!current().Busy)
                        openChange();
                },
            }, _("Change PIN")))));
}

// A dry run first: "not allowed here" comes before the holder types a PIN.
async function openChange() {
    const t = current();
    say("result", "");
    try {
        await call(bus.client, t.path, "ChangePin", "sa{sv}",
                   ["user", { "dry-run": cockpit.variant("b", true) }]);
    } catch (e) {
        say("result", () => errorText(N_("Changing the PIN failed"), e), true);
        return;
    }
    changing = true;
    $("change").hidden = false;
    $("pin-help").textContent = t.MaxPinLength > 0
        ? format(_("%d to %d characters."), t.EffectiveMinPinLength, t.MaxPinLength) : "";
    render();
    $("pin").focus();
}

async function change(ev) {
    ev.preventDefault();
    const t = current();
    const pin = $("pin"), fresh = $("new-pin"), again = $("new-pin-again");
    const problem = !secretValid(pin.value)
        ? BAD_PIN : newPinProblem(fresh, again);
    if (problem) {
        say("result", problem, true);
        (secretValid(pin.value) ? fresh : pin).focus();
        return;
    }
    const args = ["user", { pin: secret(pin.value), "new-pin": secret(fresh.value) }];
    endChange();
    say("result", "");
    $("progress").textContent = _("The card is working…");
    const progress = watchProgress(bus.client, t.path, (stage) => {
        $("progress").textContent = STAGES[stage] ? _(STAGES[stage]) : stage;
    });
    try {
        await call(bus.client, t.path, "ChangePin", "sa{sv}", args);
        say("result", () => format(_("User PIN changed on token %s.\n"), t.Serial).trim());
    } catch (e) {
        say("result", () => errorText(N_("Changing the PIN failed"), e), true);
    } finally {
        $("progress").textContent = "";
        progress.remove();
        render();
        const again = $("change-open");
        if (again)
            again.focus();
    }
}

async function start() {
    await useLanguage(chosenLanguage(), false);
    languageSwitch($("lang"), render);
    newPinFields($("kiosk-pins"));
    bus = connect(render);
    $("change-form").addEventListener("submit", change);
    $("change-cancel").addEventListener("click", () => { endChange(); render() });
    document.addEventListener("keydown", (ev) => {
        if (ev.key === "Escape" && changing) {
            endChange();
            render();
        }
    });
    bus.client.wait().then(() => say("status", ""),
                           (e) => say("status", () => errorText(N_("Cannot reach tokend"), e),
                                      true));
    render();
}

start();
