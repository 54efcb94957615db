# SPDX-License-Identifier: LGPL-2.1-or-later
"""tokend's operation table against its contracts: every Token method of the introspection XML
has a row with the same signature, every row is a method there, and every row's polkit action
is in the shipped policy (and every action there is used). A method added without its row, or
a row without its action, fails here."""

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

from tap import Tap

SOURCE = os.environ["TOKEND_SOURCE_DIR"]
DUMP = os.environ["OPERATION_TABLE"]
XML = os.path.join(SOURCE, "docs", "org.tokend.Tokend1.xml")
POLICY = os.path.join(SOURCE, "systemd", "org.tokend.policy")


def rows():
    return json.loads(subprocess.run([DUMP], check=True, capture_output=True, text=True).stdout)


def xml_methods():
    iface = ET.parse(XML).getroot().find("interface[@name='org.tokend.Tokend1.Token']")
    assert iface is not None, "no Token interface in the XML"
    methods = {}
    for m in iface.findall("method"):
        ins = "".join(a.get("type") for a in m.findall("arg") if a.get("direction", "in") == "in")
        outs = "".join(a.get("type") for a in m.findall("arg") if a.get("direction") == "out")
        methods[m.get("name")] = (ins, outs)
    assert methods, "no methods in the XML"
    return methods


def policy_actions():
    return {a.get("id") for a in ET.parse(POLICY).getroot().findall("action")}


def every_method_of_the_xml_has_a_row_with_its_signature():
    table = rows()
    for name, (ins, outs) in xml_methods().items():
        mine = [r for r in table if r["member"] == name]
        assert mine, f"{name} is in the XML but has no row in the operation table"
        for r in mine:
            assert r["signature"] == ins, (name, r["signature"], ins)
            assert r["result"] == outs, (name, r["result"], outs)
            assert ins.endswith("a{sv}"), f"{name} has no trailing options"


def every_row_is_a_method_of_the_xml():
    methods = xml_methods()
    for r in rows():
        assert r["member"] in methods, f"row {r['member']}/{r['variant']} is not in the XML"


def every_rows_action_is_in_the_policy_and_every_action_is_used():
    actions = policy_actions()
    used = {r["action"] for r in rows() if r["action"]}
    assert used <= actions, f"actions missing from the policy: {sorted(used - actions)}"
    assert actions <= used, f"policy actions no row uses: {sorted(actions - used)}"


def every_recorded_row_has_a_message_id_and_an_action():
    for r in rows():
        if r["audited"]:
            assert r["message_id"], r
            assert r["action"], f"{r['name']} is an act but open to everyone"


def presenting_a_secret_is_never_open_to_everyone():
    for r in rows():
        if "pin" in r["options"] or "so-pin" in r["options"]:
            assert r["action"], f"{r['member']}/{r['variant']} takes a secret with no action"


sys.exit(Tap([every_method_of_the_xml_has_a_row_with_its_signature,
              every_row_is_a_method_of_the_xml,
              every_rows_action_is_in_the_policy_and_every_action_is_used,
              every_recorded_row_has_a_message_id_and_an_action,
              presenting_a_secret_is_never_open_to_everyone]).run())
