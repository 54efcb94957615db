#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The soak: one tokend serving 4 simulated MyEID cards (4 vpcd readers) and 2 SoftHSM2 tokens,
4 clients (tokenctl, each call a bus connection of its own) looping realistic operations, and a
fault injector pulling cards, killing and stopping workers, restarting pcscd and tokend, for
TOKEND_SOAK_SECONDS (180 unless given). Invariants are checked while it runs and at the end:
the audit trail verifies; what the clients saw done and what the cards hold is recorded; no PIN
or PUK counter reaches 0 (the final-try guard holds); no token stays Busy once the faults stop;
a pulled card leaves Tokens within a second; tokend's RSS and open files stay bounded; tokend
dies only when killed, and a worker only by a signal the injector or tokend sent; nothing
started is left running.

TOKEND_SOAK_SEED repeats a run's choices (the seed is printed); PINs reach tokenctl on its
standard input, never its command line."""

import collections
import json
import os
import random
import resource
import re
import signal
import subprocess
import sys
import threading
import time

import simenv
from card_env import env_on_sim
from tap import Tap, skip
from tokend_env import MANAGER, ROOT, SO_PIN, SOFTHSM_MODULE, TOKEN, USER_PIN, need

SECONDS = int(os.environ.get("TOKEND_SOAK_SECONDS", "180"))
SEED = int(os.environ.get("TOKEND_SOAK_SEED", str(int.from_bytes(os.urandom(4), "big"))))
TOKENCTL = os.environ["TOKENCTL"]
CARDS = 4
SOFT_LABELS = ("soak-soft-0", "soak-soft-1")
MAX_KEYS = 3
# Outcomes after which the token was certainly not changed: refused before the act, by tokend or
# by tokenctl. Anything else (Failed, Timeout, TokenRemoved, no reply) may have changed it.
UNCHANGED = {"PinIncorrect", "PinPolicy", "PinFinalTry", "SoPinFinalTry", "PinLocked",
             "InvalidArgument", "TokenNotFound", "NoSuchToken", "ServiceUnknown", "NameHasNoOwner",
             "UnknownObject", "Busy", "Duplicate", "NoMatchingKey", "Unsupported", "AccessDenied",
             "SerialConflict"}
# The audit trail's operation for each client operation that it records.
AUDITED = {"login-list": "list-objects", "change-pin": "change-pin", "wrong-pin": "change-pin",
           "keygen": "generate-key", "csr": "create-request", "delete": "delete-object",
           "unblock": "unblock-pin", "wrong-puk": "unblock-pin"}

if os.geteuid() != 0:
    skip("needs root (pcscd in a private mount namespace, token changes without polkit)")
try:
    simenv.check_available(cards=CARDS)
except simenv.Unavailable as e:
    skip(str(e))
need("dbus-daemon", "busctl", "softhsm2-util", SOFTHSM_MODULE)

start = time.monotonic()
print_lock = threading.Lock()
violations = collections.defaultdict(list)
checks = collections.Counter()
faults = collections.Counter()
ops = collections.Counter()
last_unblock = {}  # serial -> the outcome of its last right unblock
started_pids = {}  # PID -> its start time, so that a PID used again is not counted
sim = env = None


def say(text):
    # Each line of a multi-line text is a TAP comment: meson takes anything else for output of
    # an unknown kind and fails the test on it.
    stamp = f"# [{time.monotonic() - start:7.2f} s] "
    with print_lock:
        for i, line in enumerate(str(text).splitlines() or [""]):
            print((stamp if i == 0 else "#     ") + line)
        sys.stdout.flush()


def violated(kind, text):
    violations[kind].append(text)
    say(f"VIOLATION {kind}: {text}")


class Token:
    def __init__(self, serial, card=None, puk=None):
        self.serial = serial
        self.card = card  # the SimCard, None for SoftHSM2
        self.pin = USER_PIN if card is None else sim.pin
        self.puk = SO_PIN if card is None else puk
        self.keys = set()  # key ids (hex) generated and not deleted, as the client saw it
        self.maybe_keys = set()  # ids of calls whose outcome is unknown
        self.force_next = False  # the right secret refused on its final try: say force

    def __repr__(self):
        return f"{'card' if self.card else 'soft'} {self.serial}"


def tokenctl(args, stdin=None, timeout=900):
    """(outcome, JSON document): "ok" or the error's last name component."""
    p = subprocess.Popen([TOKENCTL, "--json=short", "--no-ask-password", *args], env=env.env,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        out, err = p.communicate(stdin or "", timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        return "hung", None
    try:
        doc = json.loads(out) if out.strip() else None
    except json.JSONDecodeError:
        doc = None
    if p.returncode == 0:
        return "ok", doc
    if isinstance(doc, dict) and "error" in doc:
        return doc["error"]["name"].rsplit(".", 1)[-1], doc
    return f"exit-{p.returncode}", doc


def new_pin(rng, old):
    while True:
        pin = "".join(rng.choice("0123456789") for _ in range(6))
        if pin != old and len(set(pin)) > 2 and pin not in "01234567890" and \
                pin not in "09876543210":
            return pin


class Client(threading.Thread):
    """Loops operations: its own tokens (one card, maybe a SoftHSM2 token) for changes, any
    token for reads. It knows each own token's PIN, or that it does not (an outcome it cannot
    know), and then unblocks with the PUK or SO PIN, which never change."""

    def __init__(self, index, own, everyone, stop):
        super().__init__(name=f"client-{index}")
        self.index = index
        self.own = own
        self.everyone = everyone
        self.stop = stop
        self.rng = random.Random(SEED * 10 + index)
        self.n = 0
        # (serial, audited operation) -> counts the client saw
        self.done = collections.Counter()
        self.unknown = collections.Counter()
        self.error = None

    def run(self):
        try:
            while not self.stop.is_set():
                self.step()
                self.stop.wait(self.rng.uniform(0.1, 0.4))
        except BaseException as e:
            self.error = e
            violated("client", f"{self.name}: {type(e).__name__}: {e}")

    def call(self, op, t, args, stdin=None):
        self.n += 1
        outcome, doc = tokenctl(args, stdin)
        ops[(op, outcome)] += 1
        if ops[(op, outcome)] == 1 and outcome != "ok":
            message = doc["error"].get("message") if isinstance(doc, dict) and "error" in doc \
                else doc
            say(f"first {op} {outcome} ({t}): {message}")
        if op in AUDITED:
            if outcome == "ok":
                self.done[(t.serial, AUDITED[op])] += 1
            elif outcome not in UNCHANGED:
                self.unknown[(t.serial, AUDITED[op])] += 1
        return outcome, doc

    def step(self):
        rng = self.rng
        t = rng.choice(self.own)
        if t.pin is None:
            return self.unblock(t)
        choice = rng.choices(
            ["list", "status", "login-list", "change-pin", "wrong-pin", "keygen", "csr",
             "delete", "unblock", "wrong-puk"],
            [16, 14, 8, 10, 5, 10, 10, 8, 5, 5])[0]
        if choice in ("list", "status"):
            other = rng.choice(self.everyone)
            verb = "objects" if choice == "list" else "status"
            self.call(choice, other, [verb, other.serial])
        elif choice == "login-list":
            outcome, _ = self.call(choice, t, ["objects", t.serial, "--pin-file", "-"],
                                   f"{t.pin}\n")
            if outcome == "PinFinalTry":
                # A read never spends a final try: the PUK resets the counter.
                self.unblock(t)
        elif choice == "change-pin":
            self.change_pin(t)
        elif choice == "wrong-pin":
            wrong = new_pin(rng, t.pin)
            outcome, _ = self.call(choice, t, ["change-pin", t.serial, "--pin-file", "-",
                                               "--new-pin-file", "-"],
                                   f"{wrong}\n{new_pin(rng, wrong)}\n")
            if outcome == "ok":
                violated("pin", f"{t}: a wrong PIN changed the PIN")
            elif outcome not in UNCHANGED:
                t.pin = None
        elif choice == "keygen" and len(t.keys) + len(t.maybe_keys) < MAX_KEYS:
            key = os.urandom(8).hex()
            outcome, _ = self.call(choice, t, ["keygen", t.serial, "--type", "ec-p256", "--id",
                                               key, "--pin-file", "-"], f"{t.pin}\n")
            if outcome == "ok":
                t.keys.add(key)
            elif outcome not in UNCHANGED:
                t.maybe_keys.add(key)
            self.after_pin_refusal(t, outcome)
        elif choice == "csr" and t.keys:
            key = rng.choice(sorted(t.keys))
            outcome, _ = self.call(choice, t, ["csr", t.serial, "--key", key, "--subject",
                                               f"CN=Soak {self.index}.{self.n},O=Soak",
                                               "--pin-file", "-"], f"{t.pin}\n")
            self.after_pin_refusal(t, outcome)
        elif choice in ("delete", "keygen") and (t.keys or t.maybe_keys):
            # keygen with the token full deletes instead
            key = rng.choice(sorted(t.keys | t.maybe_keys))
            outcome, _ = self.call("delete", t, ["delete", t.serial, "--key", key, "--yes",
                                                 "--pin-file", "-"], f"{t.pin}\n")
            if outcome == "ok":
                t.keys.discard(key)
                t.maybe_keys.discard(key)
            elif outcome == "InvalidArgument":
                # No key with this id: right for a key whose generation failed.
                if key in t.keys:
                    violated("keys", f"{t}: key {key}, generated, is not there to delete")
                t.keys.discard(key)
                t.maybe_keys.discard(key)
            elif outcome not in UNCHANGED and key in t.keys:
                t.keys.discard(key)
                t.maybe_keys.add(key)
            self.after_pin_refusal(t, outcome)
        elif choice == "unblock":
            self.unblock(t)
        elif choice == "wrong-puk":
            # A run of typos at the helpdesk, until the final-try guard refuses.
            for _ in range(rng.randint(1, 12)):
                if self.wrong_puk(t) != "PinIncorrect":
                    break

    def wrong_puk(self, t):
        wrong = t.puk[::-1] if t.puk[::-1] != t.puk else t.puk + "9"
        outcome, _ = self.call("wrong-puk", t, [
            "unblock", t.serial, "--request", f"SOAK-{self.index}-{self.n}", "--so-pin-file", "-",
            "--new-pin-file", "-"], f"{wrong}\n{new_pin(self.rng, t.pin)}\n")
        if outcome == "ok":
            violated("pin", f"{t}: a wrong PUK unblocked")
        elif outcome not in UNCHANGED:
            t.pin = None
        return outcome

    def after_pin_refusal(self, t, outcome):
        if outcome == "PinFinalTry":
            t.force_next = True
            self.change_pin(t)

    def change_pin(self, t):
        pin = new_pin(self.rng, t.pin)
        force = ["--force"] if t.force_next else []
        outcome, _ = self.call("change-pin", t, ["change-pin", t.serial, "--pin-file", "-",
                                                 "--new-pin-file", "-", *force],
                               f"{t.pin}\n{pin}\n")
        if outcome == "ok":
            t.pin, t.force_next = pin, False
        elif outcome == "PinFinalTry":
            # The right PIN, known for sure: a person would say force.
            t.force_next = True
        elif outcome not in UNCHANGED:
            t.pin = None

    def unblock(self, t):
        """Sets a PIN the client knows, with the PUK (cards) or SO PIN (SoftHSM2)."""
        pin = new_pin(self.rng, t.pin)
        force = ["--force"] if t.force_next else []
        outcome, _ = self.call("unblock", t, [
            "unblock", t.serial, "--request", f"SOAK-{self.index}-{self.n}", "--so-pin-file",
            "-", "--new-pin-file", "-", *force], f"{t.puk}\n{pin}\n")
        last_unblock[t.serial] = outcome
        if outcome == "ok":
            t.pin, t.force_next = pin, False
        elif outcome == "SoPinFinalTry":
            t.force_next = True
        elif outcome == "PinIncorrect":
            violated("pin", f"{t}: the right PUK/SO PIN was refused as wrong")
        elif outcome not in UNCHANGED:
            t.pin = None


class Injector(threading.Thread):
    """One fault every 3 to 8 s, each logged with its time. The thread lives on after the faults
    (idle) until released at the end: the pcscd it restarted has a parent-death signal, which
    Linux sends when the thread that forked it ends, not the process."""

    def __init__(self, stop):
        super().__init__(name="injector")
        self.stop = stop
        self.idle = threading.Event()
        self.release = threading.Event()
        self.rng = random.Random(SEED * 10 + 9)
        self.tokend_down = threading.Event()
        self.pull_ms = []
        self.restart_s = []
        self.error = None

    def run(self):
        try:
            while not self.stop.wait(self.rng.uniform(3, 8)):
                fault = self.rng.choices(
                    ["pull-card", "kill-worker", "stop-worker", "restart-pcscd",
                     "restart-tokend", "kill-scanner", "fill-audit"],
                    [30, 20, 20, 10, 15, 8, 8])[0]
                getattr(self, fault.replace("-", "_"))()
        except BaseException as e:
            self.error = e
            violated("injector", f"{type(e).__name__}: {e}")
        finally:
            self.idle.set()
            self.release.wait()

    def log(self, fault, text):
        faults[fault] += 1
        say(f"fault {fault}: {text}")

    def pull_card(self):
        card = self.rng.choice(sim.cards)
        path = token_path_of(card)
        card.remove()
        pulled = time.monotonic()
        self.log("pull-card", f"card {card.index} ({card.reader})")
        if path and not self.tokend_down.is_set():
            # Polled through busctl, whose start-up counts against the bound too.
            while time.monotonic() - pulled < 3:
                try:
                    if path not in env.tokens():
                        break
                except Exception:
                    break
                time.sleep(0.05)
            took = time.monotonic() - pulled
            self.pull_ms.append(took * 1000)
            checks["pulled-card-leaves"] += 1
            if took > 1.0:
                violated("pulled-card", f"card {card.index} still in Tokens {took:.2f} s after "
                         "it was pulled")
        self.stop.wait(self.rng.uniform(0.5, 3))
        card.insert()

    def worker(self):
        workers = env.worker_pids()
        return self.rng.choice(workers) if workers else (None, None)

    def kill_worker(self):
        pid, serial = self.worker()
        if pid:
            os.kill(pid, signal.SIGKILL)
            self.log("kill-worker", f"worker {pid} of {serial}")

    def stop_worker(self):
        pid, serial = self.worker()
        if not pid:
            return
        os.kill(pid, signal.SIGSTOP)
        self.log("stop-worker", f"worker {pid} of {serial}")
        try:
            time.sleep(self.rng.uniform(0.5, 3))
        finally:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass

    def kill_scanner(self):
        scanners = [pid for pid, cmd in env.children() if b"--scan" in cmd]
        if scanners:
            pid = self.rng.choice(scanners)
            os.kill(pid, signal.SIGKILL)
            self.log("kill-scanner", f"scanner {pid}")

    def fill_audit(self):
        """The audit disk full for a while: tokend may not make its trail one byte longer (a
        file size limit on the running tokend, which it meets as EFBIG), then room again."""
        if self.tokend_down.is_set():
            return
        pid = env.tokend.pid
        size = os.path.getsize(env.audit_file)
        try:
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (size, resource.RLIM_INFINITY))
        except ProcessLookupError:
            return
        self.log("fill-audit", f"audit trail held at {size} bytes")
        try:
            self.stop.wait(self.rng.uniform(1, 4))
        finally:
            try:
                resource.prlimit(pid, resource.RLIMIT_FSIZE,
                                 (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
            except ProcessLookupError:
                pass

    def restart_pcscd(self):
        self.log("restart-pcscd", "pcscd stopped and started on the same ports")
        sim.restart_pcscd()
        note(sim.pcscd.proc.pid)

    def restart_tokend(self):
        self.tokend_down.set()
        try:
            self.log("restart-tokend", f"SIGKILL to tokend {env.tokend.pid}")
            env.kill_tokend()
            env.start_tokend()
            began = time.monotonic()
            env.wait_for(lambda: len(env.tokens()) >= len(SOFT_LABELS), 30,
                         "tokend back on the bus")
            self.restart_s.append(time.monotonic() - began)
            note_started()
        finally:
            self.tokend_down.clear()


def token_path_of(card):
    try:
        for path in env.tokens():
            if env.get(path, TOKEN, "Reader") == card.reader:
                return path
    except Exception:
        pass
    return None


def start_time(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (FileNotFoundError, ProcessLookupError):
        return None


def note(pid):
    if pid not in started_pids:
        started_pids[pid] = start_time(pid)


def note_started():
    """tokend's PID and its children's (workers and scanners), to check at the end that none
    is left."""
    note(env.tokend.pid)
    for pid, _ in env.children():
        note(pid)


def proc_figures(pid):
    with open(f"/proc/{pid}/status") as f:
        rss = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


class Checker(threading.Thread):
    """Every 5 s: the trail verifies, no card counter is 0, tokend is alive unless the injector
    killed it, and tokend's RSS and open files against their figures after warm-up."""

    def __init__(self, stop, injector):
        super().__init__(name="checker")
        self.stop = stop
        self.injector = injector
        self.samples = []  # (seconds, rss KiB, fds)
        self.warm = None
        self.error = None

    def run(self):
        try:
            while not self.stop.wait(5):
                self.check()
        except BaseException as e:
            self.error = e
            violated("checker", f"{type(e).__name__}: {e}")

    def check(self):
        verify_trail()
        check_counters()
        note_started()
        if self.injector.tokend_down.is_set():
            return
        tokend = env.tokend
        if tokend.poll() is not None:
            if not self.injector.tokend_down.is_set() and tokend is env.tokend:
                violated("crash", f"tokend exited with {tokend.returncode}:\n" +
                         env.log()[-3000:])
            return
        try:
            rss, fds = proc_figures(tokend.pid)
        except (OSError, AttributeError):
            return
        now = time.monotonic() - start
        self.samples.append((now, rss, fds))
        checks["rss-fds"] += 1
        if self.warm is None and now > 30:
            self.warm = (rss, fds)
            say(f"tokend after warm-up: RSS {rss} KiB, {fds} fds")
        if self.warm:
            if rss > 2 * self.warm[0]:
                violated("rss", f"tokend RSS {rss} KiB, twice its {self.warm[0]} KiB after "
                         "warm-up")
            if fds > self.warm[1] + 12:
                violated("fds", f"tokend has {fds} fds open, {self.warm[1]} after warm-up")


def verify_trail():
    outcome, doc = tokenctl(["audit", "verify", env.audit_file], timeout=60)
    checks["audit-verify"] += 1
    if outcome != "ok" or not doc.get("intact"):
        violated("audit", f"audit verify: {outcome} {doc}")
    return doc


def check_counters():
    for card in sim.cards:
        reply = card.control("pin 1")
        tries, _, puk, _ = (int(x) for x in
                            re.search(r"tries=(\d+)/(\d+) puk=(\d+)/(\d+)", reply).groups())
        checks["card-counters"] += 1
        if tries == 0 or puk == 0:
            violated("bricked", f"card {card.index}: {reply}")


def card_keys(card):
    return int(re.search(r"keys=(\d+)", card.control("keys")).group(1))


def wait_all_tokens(timeout=60):
    def ready():
        paths = env.tokens()
        if len(paths) != CARDS + len(SOFT_LABELS):
            return False
        return all(env.get(p, TOKEN, "UserPinRetriesSource") == "card"
                   for p in paths if env.get(p, TOKEN, "Reader"))
    env.wait_for(ready, timeout, "every token back on the bus")


def set_up():
    global sim, env
    sim = simenv.SimEnv(cards=CARDS, readers=CARDS, personalise=True)
    sim.start()
    for i, card in enumerate(sim.cards):
        card.remove()
        sim.wait_card(i, False)
    env = env_on_sim(sim, labels=SOFT_LABELS, modules=[simenv.OPENSC_PKCS11, SOFTHSM_MODULE],
                     scan_interval_ms=1000)
    for card in sim.cards:
        card.insert()
    wait_all_tokens()
    note_started()
    for pid in [c.proc.pid for c in sim.cards] + [sim.pcscd.proc.pid]:
        note(pid)


tokens = []
clients = []
injector = checker = None
keys_at_start = {}
limits = {}
stops = []


def soak_runs_with_faults():
    global injector, checker
    set_up()
    by_reader = {env.get(p, TOKEN, "Reader"): env.get(p, TOKEN, "Serial") for p in env.tokens()}
    for card in sim.cards:
        tokens.append(Token(by_reader[card.reader], card=card, puk=sim.puk))
        keys_at_start[card.index] = card_keys(card)
    for label in SOFT_LABELS:
        tokens.append(Token(env.get(env.token_by_label(label), TOKEN, "Serial")))
    limits.update(env.get(ROOT, MANAGER, "OperationTimeouts"))
    say(f"seed {SEED}, {SECONDS} s, tokens {tokens}")
    stop_faults, stop_clients = threading.Event(), threading.Event()
    for i in range(4):
        own = [tokens[i]] + ([tokens[CARDS + i]] if i < len(SOFT_LABELS) else [])
        clients.append(Client(i, own, tokens, stop_clients))
    injector = Injector(stop_faults)
    checker = Checker(stop_faults, injector)
    stops.extend([stop_faults, stop_clients])
    for t in clients + [injector, checker]:
        t.start()
    time.sleep(SECONDS)
    stop_faults.set()
    injector.idle.wait()
    checker.join()
    say("faults stopped")
    for card in sim.cards:
        if card.removed:
            card.insert()
    if env.tokend.poll() is not None:
        violated("crash", f"tokend exited with {env.tokend.returncode}")
    stop_clients.set()
    for c in clients:
        c.join()
    say("clients stopped")
    assert not injector.error and not checker.error, (injector.error, checker.error)
    assert not [c for c in clients if c.error], [c.error for c in clients]


def no_token_stays_busy_after_the_faults():
    wait_all_tokens()
    limit = max(limits.values())
    began = time.monotonic()
    env.wait_for(lambda: not any(env.get(p, TOKEN, "Busy") for p in env.tokens()), limit,
                 "every token idle")
    say(f"every token idle {time.monotonic() - began:.2f} s after the clients stopped")


def every_pin_known_and_no_counter_at_zero():
    check_counters()
    for t in tokens:
        for _ in range(5):
            if t.pin is not None and not t.force_next:
                break
            clients[0].unblock(t)
        outcome, _ = clients[0].call("login-list", t, ["objects", t.serial, "--pin-file", "-"],
                                     f"{t.pin}\n")
        if outcome == "PinFinalTry":
            # Wrong PINs left the PIN on its final try, which a read never spends: the unblock
            # a holder would be sent to resets it.
            t.pin = None
            for _ in range(5):
                clients[0].unblock(t)
                if t.pin is not None and not t.force_next:
                    break
            outcome, _ = clients[0].call("login-list", t,
                                         ["objects", t.serial, "--pin-file", "-"], f"{t.pin}\n")
        assert t.pin is not None, f"{t}: no unblock gave the client a PIN it knows: " \
            f"{last_unblock.get(t.serial)}"
        assert outcome == "ok", f"{t}: the PIN the client set does not log in: {outcome}"
    check_counters()
    assert not violations["bricked"] and not violations["pin"] and not violations["keys"], \
        dict(violations)


def the_ledger_never_shows_a_card_more_puk_tries_than_it_has():
    """The final-try guard rests on tokend's count of a card's PUK tries (its ledger): whatever
    was cut off, it may count a try the card did not spend, never miss one it did. Only the
    last try is held back from the attempts whose answer was lost: it shows as a final try
    (forced) where the card may have none left."""
    with open(f"{env.dir}/retry-ledger.json") as f:
        ledger = json.load(f)["tokens"]
    equal = 0
    for card in sim.cards:
        path = token_path_of(card)
        puk = int(re.search(r"puk=(\d+)/", card.control("pin 1")).group(1))
        shown = env.get(path, TOKEN, "PukRetries")
        source = env.get(path, TOKEN, "PukRetriesSource")
        checks["ledger-vs-card"] += 1
        say(f"card {card.index}: PUK {puk} tries on the card, tokend shows {shown} ({source})")
        if source == "ledger":
            entry = ledger.get(env.get(path, TOKEN, "Serial"), {})
            held_back = shown == 1 and puk == 0 and entry.get("unknown", 0) > 0
            assert shown <= puk or held_back, f"card {card.index}: tokend counts {shown} PUK " \
                f"tries, the card has {puk}; ledger {entry}"
            equal += shown == puk
    say(f"ledger equal to the card on {equal} of {len(sim.cards)} cards")


def the_audit_trail_verifies():
    doc = verify_trail()
    say(f"audit trail: {doc.get('lines')} lines, interrupted {doc.get('interrupted')}")
    assert not violations["audit"], violations["audit"]


def what_clients_saw_done_is_recorded():
    outcome, acts = tokenctl(["audit", "list", env.audit_file], timeout=60)
    assert outcome == "ok", (outcome, acts)
    recorded = collections.Counter()
    anything = collections.Counter()
    for a in acts:
        anything[(a["serial"], a["operation"])] += 1
        if a["result"] == "ok":
            recorded[(a["serial"], a["operation"])] += 1
    done, unknown = collections.Counter(), collections.Counter()
    for c in clients:
        done.update(c.done)
        unknown.update(c.unknown)
    problems = []
    for key in set(done) | set(recorded):
        # Every act a client heard succeed is recorded as done, and the trail says no act was
        # done that no client asked for (only those whose outcome the client could not know).
        if not done[key] <= recorded[key] <= done[key] + unknown[key]:
            problems.append(f"{key}: clients saw {done[key]} done and {unknown[key]} unknown, "
                            f"the trail has {recorded[key]} done")
    checks["audit-vs-clients"] += len(set(done) | set(recorded))
    for t in tokens:
        if not t.card:
            continue
        # The card's own key files against the acts recorded on it.
        have = card_keys(t.card)
        gen = (t.serial, "generate-key")
        dele = (t.serial, "delete-object")
        at_start = keys_at_start[t.card.index]
        lo = at_start + recorded[gen] - anything[dele]
        hi = at_start + anything[gen] - recorded[dele]
        checks["card-keys-vs-trail"] += 1
        if not lo <= have <= hi:
            problems.append(f"{t}: {have} keys on the card, the trail allows {lo} to {hi}")
        outcome, doc = tokenctl(["objects", t.serial, "--pin-file", "-"], f"{t.pin}\n")
        listed = {o["id"] for o in doc.get("objects", doc) if o.get("class") == "private-key"} \
            if outcome == "ok" and isinstance(doc, (dict, list)) else None
        if listed is not None and not t.keys <= listed <= t.keys | t.maybe_keys:
            problems.append(f"{t}: keys {sorted(listed)}, the client knows {sorted(t.keys)} "
                            f"and maybe {sorted(t.maybe_keys)}")
    assert not problems, "\n".join(problems)


def tokend_stayed_small_and_never_crashed():
    assert not violations["crash"], violations["crash"]
    rss, fds = proc_figures(env.tokend.pid)
    samples = checker.samples
    say(f"tokend RSS KiB: warm-up {checker.warm and checker.warm[0]}, max "
        f"{max(s[1] for s in samples)}, end {rss}; fds: warm-up {checker.warm and checker.warm[1]}"
        f", max {max(s[2] for s in samples)}, end {fds}")
    assert not violations["rss"] and not violations["fds"], (violations["rss"],
                                                            violations["fds"])
    if checker.warm:
        assert fds <= checker.warm[1] + 2, (fds, checker.warm)
    assert not violations["pulled-card"], violations["pulled-card"]


def no_worker_died_of_its_own():
    """A worker ends by the injector's SIGKILL or tokend's SIGTERM (and SIGKILL after its
    grace); any other signal is a crash."""
    died = collections.Counter(int(n) for n in
                               re.findall(r"stopped \(signal (\d+)\)", env.log()))
    say(f"workers stopped by signal: {dict(sorted(died.items()))}")
    crashed = {n: k for n, k in died.items() if n not in (signal.SIGKILL, signal.SIGTERM)}
    assert not crashed, f"workers died of signals {crashed}:\n" + "\n".join(
        line for line in env.log().splitlines() if "signal" in line)


def summary():
    say("operations (kind, outcome: count):")
    for (op, outcome), n in sorted(ops.items()):
        say(f"  {op:11} {outcome:18} {n}")
    say(f"faults: {dict(sorted(faults.items()))}")
    if injector and injector.pull_ms:
        ms = sorted(injector.pull_ms)
        say(f"pulled card out of Tokens: n={len(ms)} median {ms[len(ms) // 2]:.0f} ms, "
            f"max {ms[-1]:.0f} ms")
    if injector and injector.restart_s:
        say(f"tokend back after a restart: max {max(injector.restart_s):.2f} s")
    say(f"invariant checks: {dict(sorted(checks.items()))}")


def release_injector():
    if injector:
        injector.release.set()
        injector.join()


def nothing_is_left_running():
    global env, sim
    note_started()
    env.close()
    failed = env.failed_shutdown
    sim.close()
    env = sim = None
    release_injector()
    left = []
    for pid, began in sorted(started_pids.items()):
        if began is not None and start_time(pid) == began:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            left.append(f"{pid}: {b' '.join(argv).decode(errors='replace')}")
    say(f"{len(started_pids)} processes started, {len(left)} left")
    assert not left, left
    assert not failed, "tokend did not stop cleanly on SIGTERM"


try:
    rc = Tap([soak_runs_with_faults, no_token_stays_busy_after_the_faults,
              every_pin_known_and_no_counter_at_zero,
              the_ledger_never_shows_a_card_more_puk_tries_than_it_has, the_audit_trail_verifies,
              what_clients_saw_done_is_recorded, tokend_stayed_small_and_never_crashed,
              no_worker_died_of_its_own, nothing_is_left_running]).run()
finally:
    for stop in stops:
        stop.set()
    for t in clients + ([checker] if checker else []):
        if t.is_alive():
            t.join()
    summary()
    if env:
        env.abort()
    if sim:
        sim.close()
    release_injector()
sys.exit(rc)
