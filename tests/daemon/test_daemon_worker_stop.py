#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Stopping workers: the main process never waits for one. A token's worker that ignores SIGTERM
(here: stopped with SIGSTOP, as if stuck in a module call) is killed after the grace period
while the bus keeps answering; one that exits (its bus closed, or SIGTERM) is reaped at once,
not left a zombie; and one still in its grace period when tokend exits is killed and reaped, not
left behind."""

import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time

from tap import Tap
from tokend_env import SOFTHSM_MODULE, TOKEN, Env, need

need("dbus-daemon", "busctl", "softhsm2-util", SOFTHSM_MODULE)

# WORKER_STOP_GRACE_USEC in daemon/worker.c.
GRACE = 2.0
# A bus call that waited for a worker to stop would take the old 0.5 s of polling or more.
MAX_LATENCY = 0.3 if os.environ.get("TOKEND_UNDER_VALGRIND") else 0.1

# Orphans come to this process rather than to PID 1, so that a worker tokend left behind is seen
# (as our child) and stopped and reaped here, by its PID.
PR_SET_CHILD_SUBREAPER = 36
ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)

env = Env(labels=("stop-a", "stop-b"))


def proc_state(pid):
    """The process's state letter (R, S, T, Z...), or None when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def worker_of(e, label):
    serial = e.get(e.token_by_label(label), TOKEN, "Serial")
    pids = [pid for pid, s in e.worker_pids() if s == serial]
    assert len(pids) == 1, e.worker_pids()
    return serial, pids[0]


def delete_token(e, serial):
    """softhsm2-util --delete-token. It can fail to remove the token's directory (most likely
    the scanner, loading SoftHSM2 meanwhile, put a lock file back): what is left goes here."""
    p = subprocess.run(["softhsm2-util", "--delete-token", "--serial", serial], env=e.env,
                       capture_output=True, text=True)
    if p.returncode == 0:
        return
    # SoftHSM2 names a token's directory by a UUID that ends in its serial.
    for name in os.listdir(f"{e.dir}/tokens"):
        path = f"{e.dir}/tokens/{name}"
        if name.replace("-", "").endswith(serial):
            for _ in range(20):
                shutil.rmtree(path, ignore_errors=True)
                if not os.path.exists(path):
                    return
                time.sleep(0.05)
    raise AssertionError(f"cannot delete token {serial}: {p.stdout}{p.stderr}")


def reclaim(pid):
    """Kills a worker that a failed test left behind; reaps it when it came to us as an orphan
    (tokend reaps its own children)."""
    if proc_state(pid) is None:
        return
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def worker_ignoring_sigterm_is_killed_while_the_bus_answers():
    serial, pid = worker_of(env, "stop-a")
    prober = None
    os.kill(pid, signal.SIGSTOP)
    try:
        env.wait_for(lambda: proc_state(pid) == "T", 5, "the worker to stop")
        prober = subprocess.Popen([f"{env.build}/tests/daemon/bus-latency"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                  env=env.env)
        env.pids.append(prober.pid)
        time.sleep(0.2)
        delete_token(env, serial)
        env.wait_for(lambda: len(env.tokens()) == 1, 10, "the token to go")
        gone = time.monotonic()
        # Its stop should be under way, not done: SIGTERM waits in the stopped process.
        state = proc_state(pid)
        env.wait_for(lambda: proc_state(pid) is None, GRACE + 2,
                     f"worker {pid} to be killed and reaped")
        took = time.monotonic() - gone
        out, _ = prober.communicate("", timeout=10)
        assert prober.returncode == 0, "bus-latency failed"
        latencies = sorted(int(x) / 1e6 for x in out.split())
        print(f"# worker gone {took:.2f} s after its token; {len(latencies)} calls, "
              f"max {1000 * max(latencies, default=0):.1f} ms")
        assert len(latencies) > 20, latencies
        assert latencies[-1] < MAX_LATENCY, f"slowest calls {latencies[-3:]} s"
        assert state == "T", f"worker {pid} was in state {state} as its token went"
        assert f"Worker {pid} did not stop" in env.log(), env.log()
        assert env.tokend.poll() is None, "tokend died"
    finally:
        if prober and prober.poll() is None:
            prober.kill()
            prober.wait()
        reclaim(pid)


def worker_that_exits_is_reaped_at_once():
    serial, pid = worker_of(env, "stop-b")
    delete_token(env, serial)
    env.wait_for(lambda: len(env.tokens()) == 0, 10, "the token to go")
    # Well within the grace period: it ended on its own, and the child watch reaped it.
    env.wait_for(lambda: proc_state(pid) is None, GRACE / 2, f"worker {pid} to be reaped")


def worker_in_its_grace_period_is_killed_when_tokend_exits():
    e = Env(labels=("stop-exit",))
    pid = None
    try:
        serial, pid = worker_of(e, "stop-exit")
        os.kill(pid, signal.SIGSTOP)
        e.wait_for(lambda: proc_state(pid) == "T", 5, "the worker to stop")
        delete_token(e, serial)
        e.wait_for(lambda: len(e.tokens()) == 0, 10, "the token to go")
        state = proc_state(pid)
        assert state == "T", f"worker {pid} was in state {state} as its token went"
        start = time.monotonic()
        e.close()
        took = time.monotonic() - start
        state = proc_state(pid)
        assert state is None, f"worker {pid} outlived tokend (state {state})"
        assert not e.failed_shutdown, "tokend did not exit cleanly"
        # Exiting does not sit out the grace period (valgrind's leak check takes its own time).
        print(f"# tokend exited {took:.2f} s after SIGTERM")
        assert took < GRACE or os.environ.get("TOKEND_UNDER_VALGRIND"), took
    finally:
        if e.tokend.poll() is None:
            e.close()
        if pid:
            reclaim(pid)


try:
    rc = Tap([worker_ignoring_sigterm_is_killed_while_the_bus_answers,
              worker_that_exits_is_reaped_at_once,
              worker_in_its_grace_period_is_killed_when_tokend_exits]).run()
finally:
    env.close()
sys.exit(1 if env.failed_shutdown else rc)
