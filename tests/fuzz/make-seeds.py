#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes the seeds of one fuzz target into a directory, at build time: valid inputs of the
form the target reads (tests/fuzz/fuzz-TARGET.c says what that is), so that the fuzzer starts
from what tokend sees in use. Certificates are made here with the openssl command.

make-seeds.py TARGET DIR [--openssl PATH]"""

import argparse
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile


def piece(data):
    """A length-prefixed piece, as fuzz_piece() reads it."""
    assert len(data) < 65536
    return struct.pack('>H', len(data)) + data


# DER, just enough for names.
def der_length(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, 'big')
    return bytes([0x80 | len(b)]) + b


def tlv(tag, content):
    return bytes([tag]) + der_length(len(content)) + content


def der_oid(dotted):
    parts = [int(p) for p in dotted.split('.')]
    out = bytearray([40 * parts[0] + parts[1]])
    for p in parts[2:]:
        enc = [p & 0x7F]
        p >>= 7
        while p:
            enc.append(0x80 | (p & 0x7F))
            p >>= 7
        out += bytes(reversed(enc))
    return tlv(0x06, bytes(out))


UTF8, PRINTABLE, T61, IA5, UNIVERSAL, BMP = 0x0C, 0x13, 0x14, 0x16, 0x1C, 0x1E


def der_name(rdns):
    """rdns: [[(oid, string tag, value bytes), ...], ...], the first RDN first."""
    return tlv(0x30, b''.join(
        tlv(0x31, b''.join(tlv(0x30, der_oid(o) + tlv(t, v)) for o, t, v in rdn)) for rdn in rdns))


CN, O, OU, C, DC, EMAIL = '2.5.4.3', '2.5.4.10', '2.5.4.11', '2.5.4.6', \
    '0.9.2342.19200300.100.1.25', '1.2.840.113549.1.9.1'


def seeds_dn(out, openssl):
    texts = [
        'CN=Jane Doe,OU=IT,O=Example Corp,L=Berlin,ST=Berlin,C=DE',
        'CN=Doe\\, Jane,O=A\\+B\\;C',
        'CN=say \\"hi\\" \\<x\\> a\\\\b',
        'CN=J\\C3\\BCrgen M\\C3\\BCller',
        'CN=J\u00fcrgen,O=Stadt M\u00fcnchen,C=DE',
        'CN=a+SERIALNUMBER=123,O=Org',
        'UID=jdoe,DC=example,DC=org',
        'emailAddress=jane@example.org,CN=Jane',
        'E=jane@example.org, GN=Jane, SN=Doe, TITLE=Clerk, INITIALS=JD, PSEUDONYM=jd',
        'ORGANIZATIONIDENTIFIER=VATDE-123456789,STREET=Hauptstr. 1,C=de',
        '2.5.4.3=by oid,1.2.3.4=unknown',
        'commonName=long name,organizationName=Org',
        'CN=\\ leading and trailing\\ ,O=\\#hash',
        'CN=a\\=b\\#c',
    ]
    texts = [t.encode() for t in texts] + [b'CN=Beh\xf6rde (Latin-1, not UTF-8)']
    for i, t in enumerate(texts):
        write(out, f'text-{i:02}', b'\0' + t)
    names = [
        [[(C, PRINTABLE, b'DE')], [(O, UTF8, b'Example Corp')], [(CN, UTF8, b'Jane Doe')]],
        [[(DC, IA5, b'org')], [(DC, IA5, b'example')], [(CN, UTF8, b'a'), (EMAIL, IA5, b'x@y')]],
        [[(CN, BMP, 'J\u00fcrgen'.encode('utf-16-be'))]],
        [[(CN, UNIVERSAL, 'Stra\u00dfe'.encode('utf-32-be'))]],
        [[(CN, T61, b'Beh\xf6rde')]],
        [[(CN, UTF8, b'Jo\xe3o')]],
        [[(CN, UTF8, b'ctrl\x1b[31m\x7f')]],
        [[('1.2.3.4.5', UTF8, b'unknown type')]],
        [[(CN, BMP, b'\xd8\x00')]],
        [],
    ]
    for i, n in enumerate(names):
        write(out, f'der-{i:02}', b'\1' + der_name(n))


def write(out, name, data):
    with open(os.path.join(out, name), 'wb') as f:
        f.write(data)


GENERATORS = {
    'dn': seeds_dn,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('target', choices=sorted(GENERATORS))
    ap.add_argument('dir')
    ap.add_argument('--openssl', default='openssl')
    args = ap.parse_args()
    # Made anew, so that no seed of an older generator stays behind.
    shutil.rmtree(args.dir, ignore_errors=True)
    os.makedirs(args.dir)
    GENERATORS[args.target](args.dir, args.openssl)
    return 0


if __name__ == '__main__':
    sys.exit(main())
