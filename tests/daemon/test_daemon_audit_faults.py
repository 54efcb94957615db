# SPDX-License-Identifier: LGPL-2.1-or-later
"""A call that would change a token while the audit trail cannot take its record is refused
before the token is touched: the audit file on a small tmpfs of tokend's own (a private mount
namespace), made full, read-only, or given a damaged tail; a cut-off last line is sealed. The token is checked with
pkcs11-tool, independently of tokend."""

import json
import os
import shutil
import subprocess
import sys
import tempfile

from tap import Tap
from tokend_env import SOFTHSM_MODULE, USER_PIN, Env, fill_file_system, gvariant_options, need

need("dbus-daemon", "gdbus", "softhsm2-util", "pkcs11-tool", "unshare", "nsenter",
     SOFTHSM_MODULE)

mount_dir = tempfile.mkdtemp(prefix="tokend-trail.")
fs = f"{mount_dir}/fs"
os.mkdir(fs)
# tokend alone sees the tmpfs; the test reaches it through /proc/PID/root.
launcher = ["unshare", "-m", "--propagation", "private", "sh", "-c",
            'm=$1; shift; mount -t tmpfs -o size=256k tmpfs "$m" && exec "$@"', "sh", fs]
env = Env(labels=("faults-a",), launcher=launcher,
          extra_config=f"[Audit]\nFile={fs}/audit.jsonl\n")
path = env.token_by_label("faults-a")
inside = f"/proc/{env.tokend.pid}/root{fs}"
trail = f"{inside}/audit.jsonl"


def token_objects():
    rc, out = env.pkcs11_tool("--token-label", "faults-a", "--login", "--pin", USER_PIN,
                              "--list-objects")
    assert rc == 0, out
    return out


def keygen_error():
    return env.call_error(path, "GenerateKeyPair", "'ec-p256'",
                          gvariant_options(pin=USER_PIN.encode()))


def keygen_works():
    assert keygen_error() is None


def refused_and_unchanged(why):
    before = token_objects()
    err = keygen_error()
    assert err and err[0] == "org.tokend.Tokend1.Error.Failed", (why, err)
    assert "audit" in err[1] and "nothing" in err[1].lower(), (why, err)
    assert token_objects() == before, f"{why}: the token changed"


def verifies():
    p = subprocess.run([f"{env.build}/tests/daemon/audit-verify", trail], capture_output=True,
                       text=True)
    return p.returncode == 0, p.stdout + p.stderr


def a_full_file_system_refuses_the_act_and_leaves_the_trail_whole():
    keygen_works()
    filler = f"{inside}/filler"
    fill_file_system(filler)
    refused_and_unchanged("full disk")
    os.unlink(filler)
    ok, out = verifies()
    assert ok, out
    keygen_works()


def a_read_only_file_system_refuses_the_act():
    env.remount(fs, "ro")
    try:
        refused_and_unchanged("read-only")
    finally:
        env.remount(fs, "rw")
    keygen_works()


def a_partial_last_line_is_sealed_by_the_next_act():
    """A crash's cut-off line, as written by hand: the next act seals it with a recovery record,
    and verification names its place and passes."""
    offset = os.path.getsize(trail)
    fragment = '{"seq": 99, "operation": "generate-k'
    with open(trail, "a") as f:
        f.write(fragment)
    keygen_works()
    with open(trail, "rb") as f:
        lines = f.read().splitlines()
    cut = next(i for i, line in enumerate(lines) if line == fragment.encode())
    recovery = json.loads(lines[cut + 1])
    assert (recovery["operation"], recovery["result"]) == ("recovery", "sealed"), recovery
    assert (recovery["fragment_offset"], recovery["fragment_length"]) == (offset, len(fragment))
    assert [json.loads(x)["result"] for x in lines[cut + 2:]] == ["intent", "ok"], lines[cut:]
    ok, out = verifies()
    assert ok, out
    assert f"interruption at line {cut + 1} offset {offset} length {len(fragment)} sealed" in out
    p = subprocess.run([f"{env.build}/cli/tokenctl", "audit", "verify", trail],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"Interrupted write at line {cut + 1} (byte {offset}," in p.stdout, p.stdout


def a_damaged_complete_last_line_refuses_the_act():
    with open(trail, "a") as f:
        f.write('{"seq": 99, "operation": "generate-k\n')
    refused_and_unchanged("damaged tail")
    with open(trail) as f:
        lines = f.read().splitlines()
    # Nothing was chained onto the damaged line: the records before it are intact.
    assert json.loads(lines[-2])["result"] == "ok", lines[-2]


rc = 1
try:
    rc = Tap([a_full_file_system_refuses_the_act_and_leaves_the_trail_whole,
              a_read_only_file_system_refuses_the_act,
              a_partial_last_line_is_sealed_by_the_next_act,
              a_damaged_complete_last_line_refuses_the_act]).run()
finally:
    env.close()
    shutil.rmtree(mount_dir, ignore_errors=True)
sys.exit(1 if env.failed_shutdown else rc)
