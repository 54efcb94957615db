# SPDX-License-Identifier: LGPL-2.1-or-later
"""Introspection XML as comparable structures, for the tests that check it against the docs."""

import os
import xml.etree.ElementTree as ET


def canonical(interface):
    """An interface's members in order, with their args and annotations."""
    out = []
    for member in interface:
        if member.tag not in ("method", "signal", "property", "annotation"):
            continue
        default = "in" if member.tag == "method" else None
        args = tuple((a.get("type"), a.get("name"), a.get("direction", default))
                     for a in member.findall("arg"))
        notes = tuple((n.get("name"), n.get("value")) for n in member.findall("annotation"))
        out.append((member.tag, member.get("name"), member.get("type"), member.get("access"),
                    args, notes))
    return out


def interfaces(xml):
    root = ET.fromstring(xml)
    return {i.get("name"): canonical(i) for i in root.findall("interface")
            if i.get("name").startswith("org.tokend.")}


def documented():
    path = os.path.join(os.environ["TOKEND_SOURCE_DIR"], "docs", "org.tokend.Tokend1.xml")
    with open(path) as f:
        return interfaces(f.read())
