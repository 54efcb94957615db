#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What an administrator relies on in the shipped polkit files, read as files: the actions that
tokend's operation table checks are exactly the ones systemd/org.tokend.policy declares, their
defaults keep every change to a token away from anyone who is not an administrator (the PIN
change of the person at the active seat aside, and presenting the PIN there), each says what it
guards, and the example rules grant only declared actions, to the role groups and in the split
that DESIGN.md gives: tokend-helpdesk unblocks and changes PINs, tokend-kiosk changes the user
PIN, tokend-provisioning does the rest."""

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

from tap import Tap

source = os.environ["TOKEND_SOURCE_DIR"]
POLICY = os.path.join(source, "systemd", "org.tokend.policy")
RULES = os.path.join(source, "systemd", "50-tokend-roles.rules.example")
OPERATION_TABLE = os.environ["OPERATION_TABLE"]

# DESIGN.md, "D-Bus API": the action that guards each Token method (and variant); reading the
# public objects is open.
DESIGN_ACTIONS = {
    "ListObjects": "",
    "ListObjects/login": "org.tokend.login",
    "GenerateKeyPair": "org.tokend.generate-key",
    "CreateRequest": "org.tokend.generate-key",
    "ImportCertificate": "org.tokend.import-certificate",
    "ChangePin/user": "org.tokend.change-pin",
    "ChangePin/so": "org.tokend.change-so-pin",
    "UnblockPin": "org.tokend.unblock-pin",
    "Initialize": "org.tokend.initialize",
    "DeleteObject": "org.tokend.delete-object",
}
# Presenting the PIN at the active seat, without changing anything.
LOGIN_ACTION = "org.tokend.login"
# DESIGN.md, "Authorisation and roles": the groups and what the example rules grant them.
DESIGN_ROLES = {
    "tokend-helpdesk": {"org.tokend.unblock-pin", "org.tokend.change-pin"},
    "tokend-kiosk": {"org.tokend.change-pin"},
    "tokend-provisioning": {"org.tokend.generate-key", "org.tokend.import-certificate",
                            "org.tokend.initialize", "org.tokend.delete-object"},
}
# The holder at the active seat of their own machine changes the PIN through the action's own
# defaults, proving who they are; a kiosk account gets it from the example rules.
KIOSK_ACTION = "org.tokend.change-pin"
ADMIN_ONLY = {"auth_admin", "auth_admin_keep"}
SELF = {"auth_self", "auth_self_keep"}
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
VALID_RESULTS = {"no", "yes", "auth_self", "auth_self_keep", "auth_admin", "auth_admin_keep"}


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def authorize_table():
    """The member[/variant] -> action rows of tokend's operation table, as the daemon has it."""
    out = subprocess.run([OPERATION_TABLE], check=True, capture_output=True, text=True).stdout
    return {r["member"] + (f"/{r['variant']}" if r["variant"] else ""): r["action"] or ""
            for r in json.loads(out)}


def checked_actions():
    return {a for a in authorize_table().values() if a}


def policy_actions():
    root = ET.parse(POLICY).getroot()
    assert root.tag == "policyconfig", root.tag
    actions = {}
    for a in root.findall("action"):
        aid = a.get("id")
        assert aid not in actions, f"{aid} is declared twice"
        actions[aid] = a
    return actions


def defaults(action):
    d = action.find("defaults")
    assert d is not None, f"{action.get('id')} has no <defaults>"
    out = {}
    for key in ("allow_any", "allow_inactive", "allow_active"):
        e = d.find(key)
        # polkit reads a missing default as "no", but a reader of the file should not have to
        # know that: every one is spelled out.
        assert e is not None, f"{action.get('id')}: no <{key}>"
        value = (e.text or "").strip()
        assert value in VALID_RESULTS, f"{action.get('id')}: <{key}>{value}</{key}>"
        out[key] = value
    return out


def rule_blocks():
    """Each polkit.addRule() of the example: (action ids it names, groups it names, results)."""
    text = read(RULES)
    code = re.sub(r"//[^\n]*", "", text)
    parts = code.split("polkit.addRule(")
    assert len(parts) > 1, "no polkit.addRule in the rules example"
    assert not parts[0].strip(), f"code outside the rules: {parts[0].strip()}"
    blocks = []
    for part in parts[1:]:
        ids = set(re.findall(r'action\.id\s*==\s*"([^"]+)"', part))
        groups = set(re.findall(r'isInGroup\(\s*"([^"]+)"\s*\)', part))
        results = set(re.findall(r"polkit\.Result\.(\w+)", part))
        # Other ways of naming an action (prefix matches, lookups) would escape these checks.
        others = re.findall(r"action\.id\s*(?!==)\S+|action\.id\.\w+|action\.lookup", part)
        assert not others, f"action matched in a way this test does not read: {others}"
        blocks.append((ids, groups, results))
    return blocks


def the_daemon_table_is_the_design_table():
    assert authorize_table() == DESIGN_ACTIONS, authorize_table()


def every_checked_action_is_declared_and_every_declared_one_checked():
    checked, declared = checked_actions(), set(policy_actions())
    assert checked, "no action found in the operation table"
    assert not checked - declared, f"checked but not declared: {sorted(checked - declared)}"
    assert not declared - checked, f"declared but never checked: {sorted(declared - checked)}"


def the_policy_file_is_what_polkitd_reads():
    text = read(POLICY)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>'), text[:60]
    doctype = ('<!DOCTYPE policyconfig PUBLIC '
               '"-//freedesktop//DTD PolicyKit Policy Configuration 1.0//EN"')
    assert doctype in text, "no policyconfig DOCTYPE"
    root = ET.parse(POLICY).getroot()
    vendor = root.find("vendor")
    assert vendor is not None and vendor.text.strip(), "no <vendor>"
    for aid in policy_actions():
        assert re.fullmatch(r"org\.tokend\.[a-z][a-z-]*[a-z]", aid), f"action id {aid}"


def nothing_that_changes_a_token_is_open_by_default():
    # Reading is open by having no action at all (DESIGN.md); every declared action guards a
    # method that changes a token.
    reading = [m for m, a in authorize_table().items() if not a]
    assert reading == ["ListObjects"], reading
    for aid, action in policy_actions().items():
        d = defaults(action)
        assert d["allow_any"] == "no", f"{aid}: allow_any {d['allow_any']}"
        assert d["allow_inactive"] == "no", f"{aid}: allow_inactive {d['allow_inactive']}"
        if aid == KIOSK_ACTION:
            assert d["allow_active"] in SELF | ADMIN_ONLY, f"{aid}: allow_active {d}"
        elif aid == LOGIN_ACTION:
            assert d["allow_active"] in {"yes"} | SELF | ADMIN_ONLY, f"{aid}: {d}"
        else:
            assert d["allow_active"] in ADMIN_ONLY, f"{aid}: allow_active {d['allow_active']}"


def the_holder_at_a_kiosk_may_change_the_pin_without_extra_rules():
    d = defaults(policy_actions()[KIOSK_ACTION])
    assert d["allow_active"] in SELF, f"{KIOSK_ACTION}: allow_active {d['allow_active']}"


def every_action_says_what_it_guards():
    for aid, action in policy_actions().items():
        for tag in ("description", "message"):
            texts = [e for e in action.findall(tag) if not e.get(XML_LANG)]
            assert len(texts) == 1, f"{aid}: {len(texts)} untranslated <{tag}>"
            text = (texts[0].text or "").strip()
            assert len(text) > 15, f"{aid}: <{tag}> {text!r}"
            assert "token" in text, f"{aid}: <{tag}> does not say it is about a token: {text!r}"
        message = action.find("message").text.strip()
        assert message.startswith("Authentication is required to ") and message.endswith("."), \
            f"{aid}: {message!r}"
    # Two actions with one text would leave a person unable to tell what is being asked.
    messages = [a.find("message").text.strip() for a in policy_actions().values()]
    assert len(set(messages)) == len(messages), messages


def the_rules_example_grants_only_declared_actions_to_the_role_groups():
    declared = set(policy_actions())
    granted = {}
    for ids, groups, results in rule_blocks():
        assert ids, "a rule that names no action would grant every action"
        assert not ids - declared, f"undeclared actions in the rules: {sorted(ids - declared)}"
        assert len(groups) == 1, f"a rule for {sorted(ids)} names groups {sorted(groups)}"
        assert results == {"YES"}, f"a rule for {sorted(ids)} returns {sorted(results)}"
        group = groups.pop()
        assert group in DESIGN_ROLES, f"group {group} is not one of DESIGN.md's roles"
        granted.setdefault(group, set()).update(ids)
    assert granted == DESIGN_ROLES, granted


def the_kiosk_grant_holds_on_the_active_local_seat_only():
    kiosk = [part for part in re.sub(r"//[^\n]*", "", read(RULES)).split("polkit.addRule(")
             if 'isInGroup("tokend-kiosk")' in part]
    assert len(kiosk) == 1, kiosk
    condition = kiosk[0][:kiosk[0].index("return")]
    for needed in ("subject.local", "subject.active"):
        assert needed in condition, f"the kiosk rule does not test {needed}: {condition!r}"
    assert "||" not in condition, f"the kiosk rule has an alternative: {condition!r}"
    # Presenting the PIN to read the objects needs no rule there: the action's defaults allow
    # the active local session, and nobody else.
    d = defaults(policy_actions()[LOGIN_ACTION])
    assert (d["allow_any"], d["allow_inactive"], d["allow_active"]) == ("no", "no", "yes"), d


def the_rules_example_is_guarded_by_group_membership():
    # A rule returning YES outside its isInGroup() test would grant to everyone.
    code = re.sub(r"//[^\n]*", "", read(RULES))
    for m in re.finditer(r"return\s+polkit\.Result\.YES", code):
        before = code[:m.start()]
        condition = before[before.rfind("if"):]
        assert "isInGroup(" in condition, f"a YES not under a group test: {condition!r}"


try:
    rc = Tap([the_daemon_table_is_the_design_table,
              every_checked_action_is_declared_and_every_declared_one_checked,
              the_policy_file_is_what_polkitd_reads,
              nothing_that_changes_a_token_is_open_by_default,
              the_holder_at_a_kiosk_may_change_the_pin_without_extra_rules,
              the_kiosk_grant_holds_on_the_active_local_seat_only,
              every_action_says_what_it_guards,
              the_rules_example_grants_only_declared_actions_to_the_role_groups,
              the_rules_example_is_guarded_by_group_membership]).run()
except Exception as e:  # the files could not be read at all
    print(f"Bail out! {type(e).__name__}: {e}")
    rc = 1
sys.exit(rc)
