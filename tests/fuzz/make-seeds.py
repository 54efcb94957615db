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


def seeds_pin_policy(out, openssl):
    def policy(site_min, reject, token_min, token_max, pin, old=None):
        flags = (1 if reject else 0) | (2 if old is not None else 0)
        return (bytes([site_min, flags]) + struct.pack('>II', token_min, token_max) +
                piece(pin.encode()) + piece((old or '').encode()))
    cases = {
        'accepted': policy(6, True, 4, 8, '845613', '271828'),
        'site-default': policy(6, True, 0, 0, '90210815'),
        'repeated': policy(6, True, 4, 16, '111111'),
        'ascending': policy(6, True, 4, 16, '123456'),
        'descending': policy(6, True, 4, 16, '987654'),
        'wrapping-is-no-run': policy(6, True, 4, 16, '890123'),
        'trivial-allowed': policy(4, False, 4, 16, '0000'),
        'too-short': policy(6, True, 4, 16, '9753'),
        'too-long': policy(0, True, 4, 8, '975318642'),
        'site-above-token': policy(12, True, 4, 8, '97531864'),
        'same-as-old': policy(6, True, 4, 16, '845613', '845613'),
        'letters': policy(6, True, 6, 64, 'aaaaaa'),
        'utf8': policy(6, True, 0, 0, 'p\u00e4ss\u20ac w\u00f6rd'),
        'token-huge-max': policy(6, True, 0xFFFFFFFF, 0xFFFFFFFF, '845613'),
    }
    for name, data in cases.items():
        write(out, name, data)


CONFIG_DEFAULT = b"""# tokend's configuration
[Modules]
Module=/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so

[Pin]
MinLength=6
RejectTrivial=yes

[Unblock]
RequireRequest=yes
SiteKeyFile=

[Audit]
File=/var/lib/tokend/audit.jsonl
"""


def seeds_config(out, openssl):
    cases = {
        'default': CONFIG_DEFAULT,
        'empty': b'',
        'comments': b'; a comment\n# another\n\n[Pin]\n  MinLength = 8  ; inline\n',
        'modules': b'[Modules]\nModule=/usr/lib/softhsm/libsofthsm2.so\n'
                   b'Module=/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so\n',
        'site-key': b'[Unblock]\nRequireRequest=no\nSiteKeyFile=/etc/tokend/site.key\n',
        'booleans': b'[Pin]\nRejectTrivial=off\n[Unblock]\nRequireRequest=TRUE\n',
        'unknown-key': b'[Pin]\nMaxLength=12\n',
        'unknown-section': b'[Network]\nPort=1\n',
        'bad-number': b'[Pin]\nMinLength=65\n',
        'relative-path': b'[Audit]\nFile=audit.jsonl\n',
        'syntax-error': b'[Pin\nMinLength\n',
        'crlf': CONFIG_DEFAULT.replace(b'\n', b'\r\n'),
        'store': b'[Store]\nBackend=postgresql\n'
                 b'Connection=host=db dbname=tokend sslmode=verify-full\nStation=counter-1\n',
        'store-bad-station': b'[Store]\nBackend=file\nStation=two words\n',
    }
    for name, data in cases.items():
        write(out, name, data)


def audit_line(seq, prev, **fields):
    record = {
        'seq': seq, 'time': '2026-01-01T00:00:%02d.000000Z' % (seq % 60),
        'time_usec': 1767225600000000 + seq * 1000000, 'operation': 'unblock-pin',
        'serial': '0123456789', 'uid': 1000, 'pid': 4242 + seq, 'request': 'UA-2026-%06d' % seq,
        'result': 'ok', 'error': None, 'prev': prev,
    }
    record.update(fields)
    line = json.dumps(record, separators=(',', ':'), ensure_ascii=False).encode()
    return line, hashlib.sha256(line).hexdigest()


def audit_trail(n, edits):
    """n chained lines; edits: {seq: {field: value}} for lines that differ from the rest."""
    prev = hashlib.sha256(b'').hexdigest()
    lines = []
    for seq in range(1, n + 1):
        line, prev = audit_line(seq, prev, **edits.get(seq, {}))
        lines.append(line)
    return lines


def seeds_audit(out, openssl):
    trail = audit_trail(5, {2: {'result': 'refused', 'error': 'AccessDenied'},
                            3: {'serial': None, 'request': None, 'operation': 'initialize'},
                            4: {'result': 'failed', 'error': 'PinIncorrect'}})
    whole = b''.join(line + b'\n' for line in trail)
    lines = whole.split(b'\n')[:-1]
    edited = list(lines)
    edited[2] = edited[2].replace(b'"uid":1000', b'"uid":0')
    # A cut-off line sealed by a recovery record, then an intent and its outcome.
    fragment = lines[0][:40]
    recovery, prev = audit_line(6, hashlib.sha256(lines[-1]).hexdigest(), operation='recovery',
                                result='sealed', serial=None, request=None, intent=None,
                                fragment_offset=len(whole), fragment_length=len(fragment),
                                fragment_sha256=hashlib.sha256(fragment).hexdigest())
    intent, prev = audit_line(7, prev, result='intent', intent=None)
    outcome, _ = audit_line(8, prev, result='failed', error='PinIncorrect', intent=7)
    sealed = whole + b''.join(line + b'\n' for line in (fragment, recovery, intent, outcome))
    cases = {
        'intact': whole,
        'one-line': lines[0] + b'\n',
        'empty': b'',
        'interrupted': whole + lines[0][:40],
        'edited': b''.join(line + b'\n' for line in edited),
        'deleted': b''.join(line + b'\n' for i, line in enumerate(lines) if i != 1),
        'reordered': b''.join(line + b'\n' for line in [lines[0], lines[2], lines[1]]),
        'not-json': b'seq=1 operation=unblock-pin\n',
        'sealed': sealed,
        'sealed-then-interrupted': sealed + lines[1][:30],
    }
    for name, data in cases.items():
        write(out, name, data)


def seeds_retry_ledger(out, openssl):
    # The flags byte: bit 0 no ledger file; bits 1-2 the outcome recorded (0 right, 1 refused,
    # 2 answer lost).
    ledger = (b'{\n  "version":1,\n  "tokens":{\n    "0123456789":{\n      "failed":2,\n'
              b'      "updated":1767225600\n    },\n    "ABCDEF0001":{\n      "failed":0,\n'
              b'      "updated":1767225000\n    }\n  }\n}\n')
    cases = {
        'counted': (2, '0123456789', ledger),
        'not-counted': (0, 'FFFFFFFFFF', ledger),
        'no-file': (1, '0123456789', b''),
        'empty-ledger': (0, '0123456789', b'{"version":1,"tokens":{}}\n'),
        'other-version': (0, '0123456789', b'{"version":2,"tokens":{}}\n'),
        'bad-entry': (0, '0123456789', b'{"version":1,"tokens":{"0123456789":{"failed":-1}}}'),
        'escaped-serial': (0, 'card\\x00\\\\1', b'{"version":1,"tokens":{"card\\\\x00\\\\\\\\1":'
                                                   b'{"failed":1,"updated":0}}}'),
        'not-json': (0, '0123456789', b'failed=2\n'),
        # Found by this target: one more failure on the largest count wrote a ledger that its
        # own reader then refused.
        'largest-count': (0, '0123456789', b'{"version":1,"tokens":{"0123456789":'
                                            b'{"failed":1000000,"updated":0}}}'),
        # Flags 4: an attempt whose answer was lost, counted apart from the refusals.
        'lost-answer': (4, '0123456789', ledger),
        'lost-answers-counted': (2, '0123456789', b'{"version":1,"tokens":{"0123456789":'
                                                   b'{"failed":9,"unknown":4,"updated":0}}}'),
        'bad-unknown': (4, '0123456789', b'{"version":1,"tokens":{"0123456789":'
                                          b'{"failed":1,"unknown":"some","updated":0}}}'),
    }
    for name, (flags, serial, data) in cases.items():
        write(out, name, bytes([flags]) + piece(serial.encode()) + data)


class OpenSSL:
    """The openssl command in a temporary directory of its own."""

    def __init__(self, program, tmp):
        self.program, self.tmp = program, tmp

    def __call__(self, *args):
        subprocess.run([self.program, *args], cwd=self.tmp, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def read(self, name):
        with open(os.path.join(self.tmp, name), 'rb') as f:
            return f.read()

    def key_fields(self, key):
        """The hex fields of `openssl pkey -text` ("priv", "pub", "modulus", ...) as bytes."""
        text = subprocess.run([self.program, 'pkey', '-in', key, '-text', '-noout'],
                              cwd=self.tmp, check=True, capture_output=True, text=True).stdout
        fields, name = {}, None
        for line in text.splitlines():
            if line.startswith(' ') and name:
                fields[name] += line.strip().replace(':', '')
            elif line.endswith(':'):
                name = line[:-1]
                fields[name] = ''
            else:
                name = None
        return {k: bytes.fromhex(v).lstrip(b'\0') for k, v in fields.items()}


def make_certificates(ssl):
    """A root CA, an issuing CA under it and two holders' certificates it issued."""
    ca_ext = ['-addext', 'basicConstraints=critical,CA:TRUE',
              '-addext', 'keyUsage=critical,keyCertSign,cRLSign']
    ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
        '-keyout', 'root.key', '-out', 'root.pem', '-days', '3650',
        '-subj', '/C=DE/O=Example Agency/CN=Example Root CA', *ca_ext)
    ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384', '-nodes',
        '-keyout', 'issuing.key', '-out', 'issuing.csr',
        '-subj', '/C=DE/O=Example Agency/CN=Example Issuing CA', *ca_ext)
    ssl('x509', '-req', '-in', 'issuing.csr', '-CA', 'root.pem', '-CAkey', 'root.key',
        '-set_serial', '0x1001', '-days', '1825', '-copy_extensions', 'copyall',
        '-out', 'issuing.pem')
    holders = {
        'rsa': (['-newkey', 'rsa:2048'],
                '/C=DE/O=Example Agency/OU=Registration Office/CN=Jane Doe'),
        'ec': (['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
               '/C=DE/O=Stadt M\u00fcnchen/CN=J\u00fcrgen M\u00fcller/emailAddress=jm@example.org'),
    }
    for name, (keygen, subject) in holders.items():
        ssl('req', *keygen, '-nodes', '-keyout', f'{name}.key', '-out', f'{name}.csr', '-utf8',
            '-subj', subject,
            '-addext', 'subjectAltName=email:holder@example.org,DNS:host.example.org',
            '-addext', 'keyUsage=critical,digitalSignature,keyEncipherment',
            '-addext', 'extendedKeyUsage=clientAuth,emailProtection')
        ssl('x509', '-req', '-in', f'{name}.csr', '-CA', 'issuing.pem', '-CAkey', 'issuing.key',
            '-set_serial', '0x00c0ffee', '-days', '730', '-copy_extensions', 'copyall',
            '-out', f'{name}.pem')
    der, pem, spki = {}, {}, {}
    for name in ['root', 'issuing', 'rsa', 'ec']:
        ssl('x509', '-in', f'{name}.pem', '-outform', 'DER', '-out', f'{name}.der')
        ssl('pkey', '-in', f'{name}.key', '-pubout', '-outform', 'DER', '-out', f'{name}.spki')
        der[name], pem[name], spki[name] = (ssl.read(f'{name}.der'), ssl.read(f'{name}.pem'),
                                            ssl.read(f'{name}.spki'))
    return der, pem, spki


def before_1970(cert):
    """The certificate with its notBefore (the first UTCTime in it) set to 1 January 1950."""
    at = cert.index(b'\x17\x0d')
    return cert[:at + 2] + b'500101000000Z' + cert[at + 15:]


def seeds_certificate(out, openssl):
    with tempfile.TemporaryDirectory() as tmp:
        der, pem, spki = make_certificates(OpenSSL(openssl, tmp))
    cases = {
        'chain': [spki['rsa'], der['rsa'], der['issuing'], der['root']],
        'chain-pem': [spki['rsa'], pem['rsa'], pem['issuing'], pem['root']],
        'issuing-ca-only': [spki['rsa'], der['rsa'], der['issuing']],
        'no-chain': [spki['rsa'], der['rsa']],
        'ec': [spki['ec'], der['ec'], der['issuing'], der['root']],
        'other-key': [spki['ec'], der['rsa'], der['issuing']],
        'chain-not-issuing': [spki['rsa'], der['rsa'], der['root']],
        'ca-as-certificate': [spki['root'], der['root'], der['root']],
        'trailing-bytes': [spki['rsa'], der['rsa'] + b'\0'],
        # Found by this target: a validity time before 1970 wrapped around as seconds since the
        # epoch. Nothing checks the signature of a certificate given without a chain.
        'before-1970': [spki['rsa'], before_1970(der['rsa'])],
    }
    for name, pieces in cases.items():
        write(out, name, b''.join(piece(p) for p in pieces))


# APDUs for the MyEID simulator, as OpenSC's myeid driver and its pkcs15-init profile send
# them, framed as vpcd frames them.
MYEID_AID = bytes.fromhex('A000000063504B43532D3135')
POWER_ON, GET_ATR = b'\x01', b'\x04'


def apdu(cla, ins, p1, p2, data=None, le=None):
    a = bytes([cla, ins, p1, p2])
    if data:
        a += bytes([len(data)]) + data
    if le is not None:
        a += bytes([le])
    return a


def vpcd(*frames):
    return b''.join(struct.pack('>H', len(f)) + f for f in frames)


def fcp(fid, descriptor, size, acl=b'\x00\x00\xff', name=None):
    body = (b'\x80\x02' + struct.pack('>H', size) + bytes([0x82, 1, descriptor]) +
            b'\x83\x02' + struct.pack('>H', fid) + b'\x86\x03' + acl + b'\x85\x02\x00\x00')
    if name:
        body += bytes([0x84, len(name)]) + name
    return bytes([0x62, len(body)]) + body


def pin_record(pin, puk, tries=3, puk_tries=3):
    pad = lambda s: s.encode().ljust(8, b'\xff')
    return pad(pin) + pad(puk) + bytes([tries, puk_tries]) + b'\x00' * 6


def select(fid, p2=0x0C):
    return apdu(0x00, 0xA4, 0x00, p2, struct.pack('>H', fid))


START = [POWER_ON, GET_ATR, apdu(0x00, 0xA4, 0x04, 0x00, MYEID_AID),
         apdu(0x00, 0xCA, 0x01, 0xA0, le=0), apdu(0x00, 0xCA, 0x01, 0xAA, le=0)]


def seeds_sim(out, openssl):
    with tempfile.TemporaryDirectory() as tmp:
        ssl = OpenSSL(openssl, tmp)
        ssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'ec.key')
        ssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024', '-out', 'rsa.key')
        ec, rsa = ssl.key_fields('ec.key'), ssl.key_fields('rsa.key')
    ec_file = fcp(0x4B01, 0x22, 256, acl=b'\x10\x11\xff')
    rsa_file = fcp(0x4B02, 0x11, 1024, acl=b'\x10\x11\xff')
    personalise = START + [
        select(0x3F00), select(0x5015),
        apdu(0x00, 0xDA, 0x01, 0x01, pin_record('123456', '87654321')),
        apdu(0x00, 0xE0, 0x00, 0x00, fcp(0x5031, 0x01, 64)),
        apdu(0x00, 0xD6, 0x00, 0x00, bytes.fromhex('a80a300804060400')),
        apdu(0x00, 0xB0, 0x00, 0x00, le=0),
        apdu(0x00, 0xE0, 0x00, 0x00, fcp(0x4401, 0x38, 0, name=b'PKCS15-DIR')),
        apdu(0x00, 0xCA, 0x01, 0xA1, le=0),
        select(0x5015), apdu(0x00, 0x44, 0x00, 0x00, MYEID_AID),
        apdu(0x00, 0x20, 0x00, 0x01),
        apdu(0x00, 0x20, 0x00, 0x01, b'123456\xff\xff'),
        apdu(0x00, 0x2E, 0x00, 0x00),
    ]
    pin_lockout = START + [
        apdu(0x00, 0xDA, 0x01, 0x01, pin_record('123456', '87654321')),
        apdu(0x00, 0x44, 0x00, 0x00, MYEID_AID),
    ] + [apdu(0x00, 0x20, 0x00, 0x01, b'000000\xff\xff')] * 4 + [
        apdu(0x00, 0x2C, 0x00, 0x01, b'87654321' + b'654321\xff\xff'),
        apdu(0x00, 0x24, 0x00, 0x01, b'654321\xff\xff' + b'246810\xff\xff'),
        apdu(0x00, 0x2C, 0x01, 0x01, b'00000000'),
    ]
    ec_key = START + [
        select(0x5015), apdu(0x00, 0xE0, 0x00, 0x00, ec_file),
        apdu(0x00, 0x46, 0x00, 0x00), apdu(0x00, 0xCA, 0x01, 0x86, le=0),
        apdu(0x00, 0x22, 0x41, 0xB6, bytes.fromhex('800104') + b'\x81\x02\x4b\x01'),
        apdu(0x00, 0x2A, 0x9E, 0x9A, bytes(range(32)), le=0),
    ]
    ec_load = START + [
        select(0x5015), apdu(0x00, 0xE0, 0x00, 0x00, ec_file),
        apdu(0x00, 0xDA, 0x01, 0x87, ec['priv']), apdu(0x00, 0xDA, 0x01, 0x86, ec['pub']),
        apdu(0x00, 0xCA, 0x01, 0x86, le=0),
    ]
    components = [(0x83, 'prime1'), (0x84, 'prime2'), (0x85, 'exponent1'), (0x86, 'exponent2'),
                  (0x87, 'coefficient'), (0x80, 'modulus')]
    rsa_load = START + [select(0x5015), apdu(0x00, 0xE0, 0x00, 0x00, rsa_file)] + [
        apdu(0x00, 0xDA, 0x01, c, rsa[name]) for c, name in components] + [
        apdu(0x00, 0xDA, 0x01, 0x81, b'\x01\x00\x01'),
        apdu(0x00, 0xCA, 0x01, 0x01, le=0), apdu(0x00, 0xCA, 0x01, 0x81, le=0),
        apdu(0x00, 0x22, 0x41, 0xB6, b'\x80\x01\x02\x81\x02\x4b\x02'),
        apdu(0x00, 0x2A, 0x9E, 0x9A, bytes(range(35)), le=0),
        apdu(0x00, 0x22, 0x41, 0xB8, b'\x80\x01\x00\x81\x02\x4b\x02'),
        apdu(0x10, 0x2A, 0x80, 0x86, b'\x00' + bytes(range(1, 101))),
        apdu(0x00, 0x2A, 0x80, 0x86, bytes(range(28)), le=0),
    ]
    rsa_generate = START + [
        select(0x5015), apdu(0x00, 0xE0, 0x00, 0x00, rsa_file),
        apdu(0x00, 0x46, 0x00, 0x00, bytes.fromhex('3005810301' + '0001')),
        apdu(0x00, 0xCA, 0x01, 0x01, le=0),
    ]
    files = START + [
        apdu(0x00, 0xE0, 0x00, 0x00, fcp(0x5000, 0x38, 0)),
        apdu(0x00, 0xE0, 0x00, 0x00, fcp(0x5001, 0x01, 16)),
        apdu(0x00, 0xA4, 0x08, 0x00, bytes.fromhex('50005001')),
        apdu(0x00, 0xA4, 0x09, 0x00, bytes.fromhex('5001')), apdu(0x00, 0xA4, 0x03, 0x00),
        apdu(0x00, 0xE4, 0x00, 0x00, bytes.fromhex('5000')),
        apdu(0x00, 0xDA, 0x01, 0xE0, bytes.fromhex('0000001100ff1111')),
        apdu(0x00, 0x84, 0x00, 0x00, le=8), b'\x02', b'\x00',
    ]
    # Found by this target: a chained part without data had its no bytes copied from NULL.
    chaining_without_data = START + [
        apdu(0x10, 0xDA, 0x01, 0x80), apdu(0x10, 0xDA, 0x01, 0x80, b'\x01'),
        apdu(0x00, 0xDA, 0x01, 0x80),
    ]
    cases = {'personalise': personalise, 'pin-lockout': pin_lockout, 'ec-key': ec_key,
             'ec-load': ec_load, 'rsa-load': rsa_load, 'rsa-generate': rsa_generate,
             'files': files, 'chaining-without-data': chaining_without_data}
    for name, frames in cases.items():
        write(out, name, vpcd(*frames))


def seeds_pcsc_probe(out, openssl):
    card_data = bytes(5) + bytes([4, 5, 5]) + bytes(range(1, 11)) + b'\x00\x07'
    ok = b'\x90\x00'
    cases = {
        'myeid': [ok, card_data + ok, b'\x63\xc2', b'\x63\xc3'],
        't0': [b'\x61\x20', b'\x61\x14', card_data + ok, ok, b'\x69\x83'],
        'not-pkcs15': [b'\x6a\x82'],
        'no-card-data': [ok, b'\x6a\x88'],
        'short-card-data': [ok, card_data[:12] + ok],
        'pulled': [ok],
    }
    for name, answers in cases.items():
        write(out, name, b''.join(piece(a) for a in answers))


def seeds_text_escape(out, openssl):
    cases = {
        'label': b'Signing key',
        'padded-field': b'SoftHSM project                 ',
        'nul-padded': b'0123456789\0\0\0\0\0\0',
        'utf8': 'J\u00fcrgen\u2019s token \U0001F511'.encode(),
        'latin-1': b'J\xfcrgen',
        'backslash': b'C:\\tokens\\x41',
        'escaped': b'card\\x00\\\\1',
        'terminal': b'\x1b[2J\x1b]0;title\x07\x7f\xc2\x9b31m',
        'broken': b'\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80\xe2\x82',
        'reader': b'Virtual PCD 00 00',
    }
    for name, data in cases.items():
        write(out, name, data)


def write(out, name, data):
    with open(os.path.join(out, name), 'wb') as f:
        f.write(data)


GENERATORS = {
    'audit': seeds_audit,
    'certificate': seeds_certificate,
    'config': seeds_config,
    'dn': seeds_dn,
    'pcsc-probe': seeds_pcsc_probe,
    'pin-policy': seeds_pin_policy,
    'retry-ledger': seeds_retry_ledger,
    'sim': seeds_sim,
    'text-escape': seeds_text_escape,
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
