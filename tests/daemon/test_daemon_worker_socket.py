#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Workers started by socket activation, as tokend-worker.socket does it under systemd:
tokend, run as a user of its own as the unit runs it as tokend, connects to the worker socket
(that user's, mode 0600) once per worker, and systemd-socket-activate (--accept, one child per connection) starts each
tokend-worker as another user, who can reach pcscd and the modules but none of tokend's state. The card's token appears, its operations work through
such a worker, no worker is tokend's child or runs as root, none can open the site key or the
audit trail, and each goes when its card or tokend goes."""

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time

from card_env import CardEnv, gvariant_options, need_cards, options
from polkit_env import Users
from tap import Tap, skip
from tokend_env import copy_for_other_users, need, reachable_tmp

if os.geteuid() != 0:
    skip("needs root (a user of its own for the workers)")
need_cards()
need("systemd-socket-activate", "setpriv", "useradd")

WORKER = f"{os.environ['TOKEND_BUILD_DIR']}/daemon/tokend-worker"
NEW_PIN = b"730419"

users = Users()
# Not the user tokend, which other tests make and remove at the same time: one of this test's,
# which the test's bus lets own tokend's name as the shipped policy lets tokend.
tokend_account = pwd.getpwnam(users.user(f"tkt-tokend-{os.getpid()}"))
worker_user = users.user(f"tkt-work-{os.getpid()}")
account = pwd.getpwnam(worker_user)
# The worker's copy and its socket, in a directory of root's that the worker user can reach.
shared = tempfile.mkdtemp(prefix="tokend-worker-socket.", dir=reachable_tmp())
os.chmod(shared, 0o755)
worker_copy = copy_for_other_users(WORKER, shared)
bus_policy = os.path.join(shared, "tokend-test-owner.conf")
with open(bus_policy, "w") as f:
    f.write(f"""<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <policy user="{tokend_account.pw_name}">
    <allow own="org.tokend.Tokend1"/>
  </policy>
</busconfig>
""")
socket_path = os.path.join(shared, "worker.socket")
activator = None
TMP = os.environ.get("TMPDIR") or "/tmp"
CONF_PREFIX = "tokend-worker-opensc."
# Configurations that an earlier run's workers left, if any: not this run's.
stale_confs = {n for n in os.listdir(TMP) if n.startswith(CONF_PREFIX)}
activator_log = open(os.path.join(shared, "activator.log"), "w")
env = None


def start_activator(sim):
    """systemd-socket-activate in front of the worker, as the worker socket unit would be; the
    simulator's directory opened for the worker user to reach pcscd's socket through it."""
    global activator
    os.chmod(sim.dir, 0o711)
    activator = subprocess.Popen(
        ["systemd-socket-activate", "--accept", "--listen", socket_path,
         "-E", f"PCSCLITE_CSOCK_NAME={sim.env['PCSCLITE_CSOCK_NAME']}",
         "-E", f"OPENSC_CONF={sim.env['OPENSC_CONF']}",
         "setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--clear-groups",
         worker_copy, "--socket"],
        stdout=activator_log, stderr=subprocess.STDOUT, cwd=shared)
    end = time.monotonic() + 10
    while not os.path.exists(socket_path):
        if time.monotonic() > end or activator.poll() is not None:
            raise AssertionError("systemd-socket-activate did not listen")
        time.sleep(0.05)
    # As tokend-worker.socket has it: SocketUser=tokend, SocketMode=0600.
    os.chown(socket_path, tokend_account.pw_uid, tokend_account.pw_gid)
    os.chmod(socket_path, 0o600)


def socket_workers():
    """{pid: uid} of the workers that the activator started."""
    found = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().split(b"\0")
            with open(f"/proc/{pid}/status") as f:
                status = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        if cmd[:2] == [worker_copy.encode(), b"--socket"]:
            found[int(pid)] = int(status["Uid"].split()[0])
    return found


def parent(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def the_cards_token_appears_through_socket_workers():
    global env
    env = CardEnv(before_tokend=start_activator, run_as=tokend_account.pw_name,
                  extra_policies=(bus_policy,),
                  tokend_args=["--worker-socket", socket_path, "--worker-timeout", "3"])
    workers = socket_workers()
    # The card's worker (the scanner of its reader, another, stops once it found the token).
    assert len(workers) >= 1, workers
    assert set(workers.values()) == {account.pw_uid}, workers
    for pid in workers:
        assert parent(pid) != env.daemon.tokend.pid, "a worker is tokend's child"
    with open(f"/proc/{env.daemon.tokend.pid}/status") as f:
        uids = next(line for line in f if line.startswith("Uid:")).split()[1:]
    assert {int(u) for u in uids} == {tokend_account.pw_uid}, uids


def operations_run_in_the_socket_worker():
    env.call("GenerateKeyPair", "sa{sv}", "ec-p256",
             *options(pin=env.sim.pin.encode(), label="socket-key"))
    assert ("private-key", "socket-key") in [(c, label) for c, _, label in
                                            env.p11_objects(pin=env.sim.pin)]
    tries, max_tries, _, _ = env.counters(1)
    err = env.call_error("ChangePin", "'user'", gvariant_options(pin=b"000000",
                                                                 new_pin=NEW_PIN))
    assert err and err[0] == "org.tokend.Tokend1.Error.PinIncorrect", err
    assert env.counters(1)[0] == tries - 1
    # The count in the message is the card's own, read by the worker over PC/SC.
    assert f"{tries - 1} tries left" in err[1], err
    env.call("UnblockPin", "a{sv}", *options(so_pin=env.sim.puk.encode(), new_pin=NEW_PIN,
                                             request="ULA-SOCKET"))
    assert env.counters(1)[0] == max_tries
    assert env.login_works(NEW_PIN.decode())


def the_worker_user_cannot_open_tokends_state():
    d = env.daemon
    for path in (f"{d.dir}/site.key", f"{d.dir}/audit.jsonl"):
        assert os.path.exists(path), path
        p = subprocess.run(["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}",
                            "--clear-groups", "cat", path], capture_output=True, cwd=shared)
        assert p.returncode != 0 and not p.stdout, (path, p.stdout)
    state = os.path.realpath(d.dir)
    for pid in socket_workers():
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            assert not target.startswith(state), (pid, target)


def the_workers_configuration_hides_the_other_reader():
    """The token worker's OpenSC configuration came in its launch frame and sits in a file of
    its own, the worker user's; the scanner of its reader, which had one too, has stopped once
    it found the token, and removed its file."""
    confs = []
    for name in set(os.listdir(TMP)) - stale_confs:
        path = os.path.join(TMP, name)
        if name.startswith(CONF_PREFIX) and os.stat(path).st_uid == account.pw_uid:
            assert os.stat(path).st_mode & 0o077 == 0, oct(os.stat(path).st_mode)
            with open(path) as f:
                confs.append(f.read())
    assert len(confs) == 1, confs
    other = env.sim.pcscd.reader_names[1]
    assert "ignored_readers" in confs[0] and f'"{other}"' in confs[0], confs[0]


def a_worker_stuck_in_its_card_ends_itself():
    """tokend cannot signal a worker of another user: when a call outlasts its limit (here the
    ceiling, --worker-timeout) it closes the connection and answers, and the worker's own
    deadline (5 s more) ends it."""
    before = set(socket_workers())
    env.card.delay(2500)
    try:
        start = time.monotonic()
        err = env.call_error("ListObjects", gvariant_options(pin=NEW_PIN))
        took = time.monotonic() - start
        assert err and err[0] == "org.tokend.Tokend1.Error.Timeout", err
        assert "ListObjects did not finish within its limit of 3 seconds" in err[1], err
        assert took < 8, took
        # The stuck worker (one of those before) is gone within its own limit and a card reply.
        env.daemon.wait_for(lambda: len(before - set(socket_workers())) == 1, 15,
                            "the stuck worker to end")
    finally:
        env.card.delay(0)
    env.daemon.wait_for(lambda: len(socket_workers()) == len(before), 15, "its successor")
    # The next call works, in the new worker.
    assert ("private-key", "socket-key") in [(c, label) for c, _, label in
                                            env.objects(pin=NEW_PIN.decode())]


def a_pulled_cards_worker_goes():
    before = set(socket_workers())
    env.card.remove()
    env.daemon.wait_for(lambda: env.daemon.tokens() == [], 20, "the token to go")
    env.daemon.wait_for(lambda: len(set(socket_workers()) & before) == len(before) - 1, 10,
                        "the card's worker to exit")


def when_tokend_stops_every_worker_goes():
    env.card.insert()
    env.path = env.wait_token()
    assert len(socket_workers()) >= 1
    env.daemon.tokend.terminate()
    env.daemon.tokend.wait(10)
    deadline = time.monotonic() + 10
    while socket_workers() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not socket_workers(), socket_workers()
    # Each removed its OpenSC configuration as it went.
    left = [n for n in set(os.listdir(TMP)) - stale_confs if n.startswith(CONF_PREFIX)]
    assert not left, left


try:
    rc = Tap([the_cards_token_appears_through_socket_workers, operations_run_in_the_socket_worker,
              the_worker_user_cannot_open_tokends_state,
              the_workers_configuration_hides_the_other_reader,
              a_worker_stuck_in_its_card_ends_itself, a_pulled_cards_worker_goes,
              when_tokend_stops_every_worker_goes]).run()
finally:
    failed_shutdown = False
    if env:
        env.close()
        failed_shutdown = env.failed_shutdown
    if activator:
        activator.terminate()
        try:
            activator.wait(10)
        except subprocess.TimeoutExpired:
            activator.kill()
            activator.wait()
    for pid in socket_workers():
        os.kill(pid, 9)
    activator_log.close()
    users.close()
    shutil.rmtree(shared, ignore_errors=True)
sys.exit(1 if failed_shutdown else rc)
