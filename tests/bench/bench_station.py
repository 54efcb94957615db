#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The issuing station's figures, tokend against OpenSC's own tools on the same simulated MyEID
cards in the same run, printed as one table (docs/performance.md says what each row means).

tokend's side is tokenctl as a user runs it; the other side is pkcs11-tool and pkcs15-init, one
process per step as a provisioning script that shells out to them pays. Every card answers each
command after TOKEND_BENCH_DELAY_MS (20) milliseconds, to model a real token; the simulator
counts the commands it gets (`status`: apdus=N), so each operation's commands are read from its
card before and after; the fewest over the runs is shown, since tokend's slot poll adds to
whichever run it falls in.

Environment: TOKEND_BENCH_CARDS (16) cards in as many readers; TOKEND_BENCH_SIZES (1,8,16) the
numbers of cards provisioned at once; TOKEND_BENCH_REPEAT (3) runs per timed figure, the median
taken; TOKEND_BENCH_CALLS (1000) bus calls before the second memory reading; TOKEND_BENCH_SHORT
set: 2 cards, sizes 1 and 2, one run each, 100 calls, 10 s rather than TOKEND_BENCH_IDLE_SECONDS
(60) watched for the idle APDUs. Where tokend shows fewer tokens than cards
in their readers (OpenSC's module shows one process at most 4 cards), a row says how many it
had and measures those. The table goes to standard output and, as Markdown, to
bench-station.md in meson's log directory (TOKEND_BENCH_OUTPUT to name another file)."""

import json
import os
import pty
import re
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import simenv
from tokend_env import BUS_NAME, MANAGER, ROOT, TOKEN, CallError, exec_as

SHORT = bool(os.environ.get("TOKEND_BENCH_SHORT"))
CARDS = int(os.environ.get("TOKEND_BENCH_CARDS", "2" if SHORT else "16"))
SIZES = [int(x) for x in os.environ.get("TOKEND_BENCH_SIZES",
                                        "1,2" if SHORT else "1,8,16").split(",")]
REPEAT = int(os.environ.get("TOKEND_BENCH_REPEAT", "1" if SHORT else "3"))
CALLS = int(os.environ.get("TOKEND_BENCH_CALLS", "100" if SHORT else "1000"))
IDLE_SECONDS = int(os.environ.get("TOKEND_BENCH_IDLE_SECONDS", "10" if SHORT else "60"))
DELAY_MS = int(os.environ.get("TOKEND_BENCH_DELAY_MS", "20"))
TOKENCTL = os.environ.get("TOKENCTL") or os.path.join(simenv.build_dir(), "cli", "tokenctl")
OPENSC = simenv.OPENSC_PKCS11
NEW_PIN = "271828"
PIN_VAR = "TOKEND_BENCH_PIN"
# The targets (docs/performance.md).
LIST_TARGET = 100
PROVISION_TARGET = 1.5
MAIN_RSS_TARGET_KIB = 8 * 1024
WORKER_RSS_TARGET_KIB = 16 * 1024

MANIFEST = """[Token]
Label=ST {serial}
[Key]
Type=ec-p256
Label=holder key
[Request]
Subject=CN=Holder {serial},O=Bench Agency,C=MO
Output=requests
"""

try:
    simenv.check_available(cards=1)
    for p in ("dbus-daemon", "dbus-monitor", "busctl", "openssl"):
        if not simenv._which(p):
            raise simenv.Unavailable(f"{p} is not installed")
except simenv.Unavailable as e:
    print(f"SKIP: {e}")
    sys.exit(77)

from card_env import CardEnv  # noqa: E402 (after the skip: it imports the harness's bus pieces)

rows = []  # (figure, tokend, tools, verdict)
notes = []


def row(figure, tokend, tools, verdict=""):
    rows.append((figure, tokend, tools, verdict))
    print(f"# {figure}: tokend {tokend}; OpenSC's tools {tools}; {verdict}", flush=True)


def seconds(s):
    if s is None:
        return "—"
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.2f} s"


def ratio(a, b):
    return b / a if a else float("inf")


def met(ok):
    return "met" if ok else "**not met**"


class Station:
    def __init__(self):
        readers = max(2, CARDS + CARDS % 2)
        # tokend's own poll interval, not the tests' 200 ms: OpenSC's slots are polled ten times
        # slower than that, and each poll reaches every card.
        self.env = CardEnv(cards=CARDS, readers=readers, label="station card",
                           tokend_args=("--scan-interval", "2000"))
        self.sim = self.env.sim
        self.d = self.env.daemon
        self.work = tempfile.mkdtemp(prefix="station.", dir=self.d.dir)
        self.pin = self.sim.pin
        self.pin_file = self.write("pin", self.pin)
        self.so_file = self.write("so-pin", self.sim.so_pin)
        self.tool_env = {}
        for card in self.sim.cards:
            card.delay(DELAY_MS)
        for card in self.sim.cards[1:]:
            card.insert()
        # Every card's worker has reported, or tokend stopped finding more.
        want = len(self.sim.cards)
        end = time.monotonic() + 30 + CARDS * 5
        last, since = -1, time.monotonic()
        while time.monotonic() < end:
            n = len(self.ready_tokens())
            if n == want:
                break
            if n != last:
                last, since = n, time.monotonic()
            elif time.monotonic() - since > 20:
                break
            time.sleep(0.5)
        self.refresh()

    def write(self, name, text):
        path = os.path.join(self.work, name)
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(text + "\n")
        return path

    def prop(self, path, name):
        """A token's property, None once the token has gone (between listing and asking)."""
        try:
            return self.d.get(path, TOKEN, name)
        except CallError:
            return None

    def ready_tokens(self):
        return [p for p in self.d.tokens() if self.prop(p, "UserPinRetriesSource") == "card"]

    def refresh(self):
        """card index: (token path, serial) for the cards tokend shows."""
        by_reader = {}
        for p in self.ready_tokens():
            by_reader[self.prop(p, "Reader")] = (p, self.prop(p, "Serial"))
        self.on_bus = {i: by_reader[c.reader] for i, c in enumerate(self.sim.cards)
                       if c.reader in by_reader}

    def apdus(self, cards=None):
        total = 0
        for card in cards if cards is not None else self.sim.cards:
            m = re.search(r"apdus=(\d+)", card.status())
            total += int(m.group(1))
        return total

    def tokenctl(self, *args, stdin=None):
        p = subprocess.run([TOKENCTL, *args], capture_output=True, text=True, env=self.d.env,
                           timeout=1800, stdin=subprocess.DEVNULL if stdin is None else None,
                           input=stdin, start_new_session=True)
        if p.returncode != 0:
            raise AssertionError(f"tokenctl {' '.join(args)}: exit {p.returncode}\n"
                                 f"{p.stdout}\n{p.stderr}")
        return p.stdout

    def card_env(self, index):
        """OpenSC's configuration for a tool working on one card: the other readers ignored, as
        a script must do past OpenSC's four cards a process (and the tool's best case)."""
        if index not in self.tool_env:
            others = [c.reader for j, c in enumerate(self.sim.cards) if j != index]
            conf = os.path.join(self.work, f"opensc-{index}.conf")
            ignored = ", ".join(f'"{r}"' for r in others)
            with open(conf, "w") as f:
                f.write(simenv.OPENSC_CONF.replace(
                    "framework pkcs15 {", (f"ignored_readers = {ignored};\n    " if others else "")
                    + "framework pkcs15 {"))
            self.tool_env[index] = dict(self.sim.env, OPENSC_CONF=conf)
        return self.tool_env[index]

    def tool(self, args, index=None, pin=None, stdin=None):
        env = dict(self.sim.env if index is None else self.card_env(index))
        if pin is not None:
            env[PIN_VAR] = pin
        p = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600,
                           stdin=subprocess.DEVNULL if stdin is None else None, input=stdin)
        if p.returncode != 0:
            raise AssertionError(f"{' '.join(args)}: exit {p.returncode}\n{p.stdout}{p.stderr}")
        return p.stdout

    def erase(self, index):
        """pkcs15-init --erase-card, which asks for the SO PIN on its terminal whatever --so-pin
        says: it gets one of its own, and the PIN typed there."""
        argv = ["/usr/bin/pkcs15-init", "--reader", self.sim.cards[index].reader, "--erase-card"]
        pid, fd = pty.fork()
        if pid == 0:
            exec_as(argv, self.card_env(index))
        out, sent = b"", False
        try:
            while True:
                r, _, _ = select.select([fd], [], [], 120)
                if not r:
                    os.kill(pid, signal.SIGKILL)
                    raise AssertionError(f"pkcs15-init --erase-card hangs: {out!r}")
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
                if not sent and b"Please enter PIN" in out:
                    os.write(fd, self.sim.so_pin.encode() + b"\n")
                    sent = True
        finally:
            _, status = os.waitpid(pid, 0)
            os.close(fd)
        if os.waitstatus_to_exitcode(status) != 0:
            raise AssertionError(f"pkcs15-init --erase-card: {out.decode(errors='replace')}")

    def pkcs11_tool(self, index, *args, pin=None):
        login = ["--login", "--pin", f"env:{PIN_VAR}"] if pin is not None else []
        return self.tool(["pkcs11-tool", "--module", OPENSC, *login, *args], index, pin)

    def timed(self, fn, cards):
        before = self.apdus(cards)
        start = time.monotonic()
        out = fn()
        took = time.monotonic() - start
        return took, self.apdus(cards) - before, out

    def close(self):
        self.env.close()


def median_of(runs):
    """The median time and the fewest APDUs of the runs: tokend's slot poll adds commands to
    whichever run it falls in, the other side's included."""
    return statistics.median(t for t, _, _ in runs), min(a for _, a, _ in runs)


def listing(st):
    on = len(st.on_bus)
    tk = [st.timed(lambda: st.tokenctl("--json", "list"), None) for _ in range(REPEAT)]
    tl = [st.timed(lambda: st.tool(["pkcs11-tool", "--module", OPENSC, "-L"]), None)
          for _ in range(REPEAT)]
    shown = len(re.findall(r"token label", tl[-1][2]))
    (t_tk, a_tk), (t_tl, a_tl) = median_of(tk), median_of(tl)
    r = ratio(t_tk, t_tl)
    target = f"≥ {LIST_TARGET}× on 16 cards"
    if on < CARDS:
        judged = f"not measurable: tokend listed {on} of {CARDS} cards"
    elif CARDS < 16:
        judged = f"not measurable with {CARDS} cards"
    else:
        judged = met(r >= LIST_TARGET)
    verdict = f"{r:.0f}× faster; target {target}: {judged}"
    row(f"listing {CARDS} cards (`tokenctl list` / `pkcs11-tool -L`)",
        f"{seconds(t_tk)} ({on} tokens)", f"{seconds(t_tl)} ({shown} tokens)", verdict)
    return a_tk, a_tl


def keygen(st, index, kind, tool_type):
    path, serial = st.on_bus[index]
    card = [st.sim.cards[index]]
    ids = []

    def by_tokend():
        doc = json.loads(st.tokenctl("--json", "keygen", serial, "--type", kind, "--label",
                                     f"bench {kind}", "--pin-file", st.pin_file))
        ids.append(doc["id"])

    tool_ids = []

    def by_tool():
        key_id = f"{0xb000 + len(tool_ids) + (0x100 if kind != 'ec-p256' else 0):04x}"
        st.pkcs11_tool(index, "--keypairgen", "--key-type", tool_type, "--id", key_id, "--label",
                       f"tool {kind}", pin=st.pin)
        tool_ids.append(key_id)

    reps = REPEAT if kind == "ec-p256" else min(REPEAT, 2)
    tk = [st.timed(by_tokend, card) for _ in range(reps)]
    tl = [st.timed(by_tool, card) for _ in range(reps)]
    (t_tk, a_tk), (t_tl, a_tl) = median_of(tk), median_of(tl)
    row(f"key generation {kind} (`tokenctl keygen` / `pkcs11-tool --keypairgen`)",
        seconds(t_tk), seconds(t_tl), f"{ratio(t_tk, t_tl):.2f}× the tool's speed")
    return a_tk, a_tl, ids[0], tool_ids[0]


def request(st, index, key_id, tool_key_id):
    path, serial = st.on_bus[index]
    card = [st.sim.cards[index]]
    out = os.path.join(st.work, "bench.csr")
    data = st.write("tbs", "a certificate request's to-be-signed part")
    sig = os.path.join(st.work, "sig")

    def by_tokend():
        st.tokenctl("csr", serial, "--key", key_id, "--subject", "CN=Bench,O=Bench Agency,C=MO",
                    "-o", out, "--pin-file", st.pin_file)

    def by_tool():
        st.pkcs11_tool(index, "--sign", "--id", tool_key_id, "--mechanism", "ECDSA-SHA256",
                       "--signature-format", "openssl", "-i", data, "-o", sig, pin=st.pin)

    tk = [st.timed(by_tokend, card) for _ in range(REPEAT)]
    tl = [st.timed(by_tool, card) for _ in range(REPEAT)]
    subprocess.run(["openssl", "req", "-in", out, "-verify", "-noout"], check=True,
                   capture_output=True)
    (t_tk, a_tk), (t_tl, a_tl) = median_of(tk), median_of(tl)
    row("request, EC P-256 (`tokenctl csr` / `pkcs11-tool --sign`, its signature alone)",
        seconds(t_tk), seconds(t_tl), f"{ratio(t_tk, t_tl):.2f}× the tool's speed")
    return a_tk, a_tl


def insertion(st, index):
    """insert → TokenAdded: from the simulator's insert to dbus-monitor's line for the signal."""
    card = st.sim.cards[index]
    path, _ = st.on_bus[index]
    mon = subprocess.Popen(["stdbuf", "-oL", "dbus-monitor", "--address", st.d.address,
                            f"type='signal',interface='{MANAGER}',member='TokenAdded'"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           stdin=subprocess.DEVNULL, text=True)
    times = []
    try:
        for line in mon.stdout:
            if "NameLost" in line:
                break
        for _ in range(max(REPEAT, 3)):
            card.remove()
            st.d.wait_for(lambda: path not in st.d.tokens(), 30, "the card's token gone")
            time.sleep(0.5)
            start = time.monotonic()
            card.insert()
            for line in mon.stdout:
                if "member=TokenAdded" in line:
                    times.append(time.monotonic() - start)
                    break
            st.d.wait_for(lambda: path in st.ready_tokens(), 60, "the card back")
    finally:
        mon.terminate()
        mon.wait()
    row(f"insert → TokenAdded at {DELAY_MS} ms a command (median, max of {len(times)})",
        f"{seconds(statistics.median(times))}, {seconds(max(times))}", "—",
        "pcscd polls vpcd's ATR about every 400 ms")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        m = re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.MULTILINE)
    return int(m.group(1))


def memory(st):
    d = st.d
    time.sleep(2)
    workers = dict(d.worker_pids())
    scanners = [pid for pid, _ in d.children() if pid not in workers]
    main_idle = rss_kib(d.tokend.pid)
    workers_idle = {pid: rss_kib(pid) for pid in workers}
    scanners_idle = {pid: rss_kib(pid) for pid in scanners}
    for card in st.sim.cards:
        card.delay(0)
    paths = [p for p, _ in st.on_bus.values()]
    start = time.monotonic()
    for i in range(CALLS):
        # Half to the main process alone (the object tree), half through a worker.
        if i % 2 == 0 or not paths:
            d.busctl("call", BUS_NAME, ROOT, "org.freedesktop.DBus.ObjectManager",
                     "GetManagedObjects")
        else:
            d.busctl("call", BUS_NAME, paths[(i // 2) % len(paths)], TOKEN, "ListObjects",
                     "a{sv}", "0")
    took = time.monotonic() - start
    for card in st.sim.cards:
        card.delay(DELAY_MS)
    time.sleep(1)
    main_after = rss_kib(d.tokend.pid)
    workers_after = {pid: rss_kib(pid) for pid in workers if os.path.exists(f"/proc/{pid}")}
    scanners_after = {pid: rss_kib(pid) for pid in scanners if os.path.exists(f"/proc/{pid}")}
    notes.append(f"{CALLS} calls (GetManagedObjects and ListObjects in turn, busctl) took "
                 f"{took:.1f} s")
    grow = main_after - main_idle
    row("RSS of the main process, idle → after "
        f"{CALLS} calls", f"{main_idle / 1024:.1f} MiB → {main_after / 1024:.1f} MiB", "—",
        f"≤ 8 MiB idle: {met(main_idle <= MAIN_RSS_TARGET_KIB)}; growth {grow} KiB: "
        f"{met(grow <= 0)}")
    children_row(f"RSS of each worker ({len(workers)}), largest idle → after", workers_idle,
                 workers_after)
    children_row(f"RSS of the slot scanner ({len(scanners)}), idle → after", scanners_idle,
                 scanners_after)


def children_row(figure, idle, after):
    """A row for the largest of tokend's children of one kind, against the workers' target."""
    if not idle:
        return
    hi_idle, hi_after = max(idle.values()), max(after.values(), default=0)
    row(figure, f"{hi_idle / 1024:.1f} MiB → {hi_after / 1024:.1f} MiB", "—",
        f"≤ 16 MiB: {met(max(hi_idle, hi_after) <= WORKER_RSS_TARGET_KIB)}")


def provision_tokend(st, size):
    """(seconds, cards provisioned, the fewest APDUs a card took) of one tokenctl provision run
    on the first `size` cards tokend shows; None where it shows none."""
    cards = sorted(st.on_bus)[:size]
    if not cards:
        return None
    serials = [st.on_bus[i][1] for i in cards]
    manifest = st.write("manifest.ini", MANIFEST.rstrip())
    new_pin = st.write("new-pin", NEW_PIN)
    before = [st.apdus([st.sim.cards[i]]) for i in cards]
    start = time.monotonic()
    out = st.tokenctl("--json", "provision", manifest, *serials, "--yes", "--so-pin-file",
                      st.so_file, "--new-pin-file", new_pin)
    took = time.monotonic() - start
    doc = json.loads(out)
    if doc["done"] != len(serials):
        raise AssertionError(f"provision: {out}")
    return took, len(serials), min(st.apdus([st.sim.cards[i]]) - b for i, b in zip(cards, before))


def provision_tools(st, count):
    """The serial loop of OpenSC's tools, card after card: erase, PKCS#15 structure, PIN,
    finalise, EC key pair, and the request's signature. Returns the loop's time when each card
    was done and the fewest APDUs a card took."""
    done, counts = [], []
    start = time.monotonic()
    data = st.write("tbs", "a certificate request's to-be-signed part")
    for i in range(count):
        reader = st.sim.cards[i].reader
        before = st.apdus([st.sim.cards[i]])
        so = f"env:{simenv.SO_PIN_VAR}"
        st.erase(i)
        for step in (
                     ["--create-pkcs15", "--so-pin", so, "--so-puk", f"env:{simenv.SO_PUK_VAR}",
                      "--label", f"ST {i}"],
                     ["--store-pin", "--id", "01", "--pin", f"env:{PIN_VAR}", "--puk",
                      f"env:{simenv.PUK_VAR}", "--so-pin", so, "--label", "User PIN"],
                     ["--finalize"],
                     ["--generate-key", "ec/prime256v1", "--auth-id", "01", "--id", "45",
                      "--pin", f"env:{PIN_VAR}", "--label", "holder key"]):
            st.tool(["pkcs15-init", "--reader", reader, *step], i, pin=NEW_PIN)
        st.pkcs11_tool(i, "--sign", "--id", "45", "--mechanism", "ECDSA-SHA256",
                       "--signature-format", "openssl", "-i", data, "-o",
                       os.path.join(st.work, "sig"), pin=NEW_PIN)
        counts.append(st.apdus([st.sim.cards[i]]) - before)
        done.append(time.monotonic() - start)
    return done, min(counts)


def provisioning(st):
    sizes = sorted(set(s for s in SIZES if s <= CARDS))
    skipped = sorted(set(SIZES) - set(sizes))
    if skipped:
        notes.append(f"provisioning {', '.join(map(str, skipped))} cards not run: "
                     f"only {CARDS} cards in this run (TOKEND_BENCH_CARDS)")
    ours = {}
    for size in sizes:
        ours[size] = provision_tokend(st, size)
        if ours[size]:
            print(f"# tokend provisioned {ours[size][1]} of {size} cards in {ours[size][0]:.1f} "
                  "s", flush=True)
    loop, tool_apdus = provision_tools(st, max(sizes))
    if not any(ours.values()):
        for size in sizes:
            row(f"provisioning {size} card{'s' if size > 1 else ''}", "no token on the bus",
                seconds(loop[size - 1]), "not measurable")
        return None
    one = ours[1][0] if ours.get(1) else None
    for size in sizes:
        if not ours[size]:
            continue
        took, n, _ = ours[size]
        shown = "" if n == size else f"; only {n} of {size} cards on the bus"
        times_one = took / one if one else None
        if size == 1 or times_one is None:
            verdict = ""
        elif n < size:
            verdict = f"{times_one:.2f}× one card's time for the {n} cards tokend showed; "
        elif size < 16:
            verdict = f"{times_one:.2f}× one card's time (the target is for 16 cards); "
        else:
            verdict = (f"{times_one:.2f}× one card's time; target ≤ {PROVISION_TARGET}×: "
                       f"{met(times_one <= PROVISION_TARGET)}; ")
        # Against the loop over as many cards as tokend provisioned.
        same = "" if n == size else f" over its first {n} cards"
        row(f"provisioning {size} card{'s' if size > 1 else ''} (init + EC key + request; "
            f"`tokenctl provision` / serial loop)", f"{seconds(took)}{shown}",
            seconds(loop[size - 1]), f"{verdict}{loop[n - 1] / took:.1f}× the speed of the "
            f"loop{same}")
    return min(o[2] for o in ours.values() if o), tool_apdus


def attempt(figure, fn, *args):
    """fn's result; where tokend's token went away under it (tokens that come and go), a row
    saying so instead, and None."""
    try:
        return fn(*args)
    except (AssertionError, CallError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        row(figure, f"failed: {first[:120]}", "—", "not measurable")
        return None


def main():
    started = time.monotonic()
    st = Station()
    try:
        on = len(st.on_bus)
        monitor_lost = "pcscd went away" in st.d.log()
        if monitor_lost:
            # 16 readers and the PnP pseudo-reader are 17 reader states, one more than
            # pcsc-lite's SCardGetStatusChange() takes.
            notes.append(f"tokend's log says \"pcscd went away\" again and again with {CARDS} "
                         "readers, while pcscd ran throughout")
        if on < CARDS:
            why = ("tokend's PC/SC monitor kept losing pcscd" if monitor_lost else
                   "OpenSC's module shows one process at most 4 cards, and tokend's discovery "
                   "is one process")
            notes.append(f"only {on} of {CARDS} cards on the bus: {why}")
        apdu_rows = []
        idle_before = st.apdus()
        time.sleep(IDLE_SECONDS)
        idle = (st.apdus() - idle_before) / CARDS * 60 / IDLE_SECONDS
        row(f"APDUs per card and minute, idle ({IDLE_SECONDS} s watched)", f"{idle:.0f}", "0",
            "no target: tokend's slot poll")
        a = listing(st)
        apdu_rows.append((f"listing ({CARDS} cards, all together)", *a))
        # The per-token figures on the first cards tokend shows.
        shown = sorted(st.on_bus)
        if shown:
            first, second = shown[0], shown[1 if len(shown) > 1 else 0]
            a = attempt("key generation ec-p256", keygen, st, first, "ec-p256", "EC:prime256v1")
            if a:
                apdu_rows.append(("key generation EC P-256", a[0], a[1]))
                b = attempt("request", request, st, first, a[2], a[3])
                if b:
                    apdu_rows.append(("request (tool: its signature alone)", *b))
            a = attempt("key generation rsa2048", keygen, st, second, "rsa2048", "rsa:2048")
            if a:
                apdu_rows.append(("key generation RSA-2048", a[0], a[1]))
            attempt("insert → TokenAdded", insertion, st, first)
        else:
            row("key generation, request, insert → TokenAdded", "no token on the bus", "—",
                "not measurable")
        memory(st)
        a = attempt("provisioning", provisioning, st)
        if a:
            apdu_rows.append(("provisioning one card", *a))
        for figure, tk, tl in apdu_rows:
            judged = met(tk <= tl)
            if figure.startswith("listing") and on < CARDS:
                judged = f"not measurable: tokend listed {on} of {CARDS} cards"
            row(f"APDUs, {figure}", str(tk), str(tl), f"target ≤ tools': {judged}")
    finally:
        st.close()
    total = time.monotonic() - started
    lines = [f"{CARDS} simulated MyEID cards at {DELAY_MS} ms a command, {REPEAT} run(s) per "
             f"timed figure (median), {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d')}; "
             f"benchmark run {total:.0f} s.", ""]
    lines += ["| figure | tokend | OpenSC's tools | ratio / target |", "| --- | --- | --- | --- |"]
    lines += [f"| {' | '.join(r)} |" for r in rows]
    if notes:
        lines += [""] + [f"- {n}" for n in notes]
    text = "\n".join(lines) + "\n"
    print(text)
    out = os.environ.get("TOKEND_BENCH_OUTPUT") or os.path.join(simenv.build_dir(), "meson-logs",
                                                                 "bench-station.md")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        f.write(text)
    print(f"# written to {out}")


main()
