# SPDX-License-Identifier: LGPL-2.1-or-later
"""tokend on simulated cards: simenv's private pcscd with tokend-sim MyEID cards personalised by
pkcs15-init, and tokend_env's private bus with a tokend driving them through OpenSC.

Clients get the same OpenSC configuration and pcscd as tokend (`env`), and PINs reach
pkcs11-tool through the environment (`--pin env:VAR`), never its command line."""

import os
import re
import subprocess
import time

import simenv
from tap import skip
from tokend_env import (MANAGER, ROOT, TOKEN, CallError, Env,  # noqa: F401 (for the card tests)
                        gvariant_options, options)

OPENSC = simenv.OPENSC_PKCS11
PIN_ENV = "TOKEND_TEST_PIN"
SO_PIN_ENV = "TOKEND_TEST_SO_PIN"


def need_cards():
    """Skips the test program where simulated cards or the daemon's clients cannot run."""
    try:
        simenv.check_available(cards=1)
    except simenv.Unavailable as e:
        skip(str(e))
    for p in ("dbus-daemon", "dbus-monitor", "busctl", "gdbus", "openssl"):
        if not simenv._which(p):
            skip(f"{p} is not installed")


def env_on_sim(sim, **env_args):
    """tokend_env.Env (env_args) whose tokend and clients use sim's pcscd and OpenSC
    configuration: Env copies the environment as it starts."""
    saved = os.environ.get("PCSCLITE_CSOCK_NAME")
    os.environ["PCSCLITE_CSOCK_NAME"] = sim.env["PCSCLITE_CSOCK_NAME"]
    try:
        env = Env(**env_args)
    finally:
        if saved is None:
            del os.environ["PCSCLITE_CSOCK_NAME"]
        else:
            os.environ["PCSCLITE_CSOCK_NAME"] = saved
    env.env["OPENSC_CONF"] = sim.env["OPENSC_CONF"]
    return env


class CardEnv:
    """Simulated cards in a private pcscd, and tokend on a private bus with OpenSC's module.

    Card 0 is in its reader when tokend has listed it; any further cards (`cards`) are out of
    theirs, for the test to insert. `before_tokend(sim)` runs once the cards are in their
    readers and before tokend starts (to personalise them differently, for example).
    `launcher`, `state_dir`, `tokend_args`, `run_as` and `audit_group` go to tokend_env.Env."""

    def __init__(self, personalise=True, extra_config="", before_tokend=None, extra_policies=(),
                 cards=1, launcher=(), state_dir=None, tokend_args=(), run_as=None,
                 audit_group=None, **sim_args):
        self.sim = simenv.SimEnv(cards=cards, personalise=personalise, **sim_args)
        self.daemon = None
        self.monitor = None
        try:
            self.sim.start()
            if before_tokend:
                before_tokend(self.sim)
            # tokend starts with an empty reader (Env waits for its token list to match the
            # SoftHSM2 tokens it made: none) and sees the card inserted.
            for i, card in enumerate(self.sim.cards):
                card.remove()
                self.sim.wait_card(i, False)
            self.daemon = env_on_sim(self.sim, labels=(), modules=[OPENSC],
                                     extra_config=extra_config, extra_policies=extra_policies,
                                     launcher=launcher, state_dir=state_dir,
                                     tokend_args=tokend_args, run_as=run_as,
                                     audit_group=audit_group)
            self.card = self.sim.cards[0]
            self.card.insert()
            self.path = self.wait_token()
        except BaseException:
            self.close()
            raise

    @property
    def failed_shutdown(self):
        return bool(self.daemon and self.daemon.failed_shutdown)

    def wait_token(self, timeout=20):
        """The card's token object, once its worker has reported the card's own counters."""
        d = self.daemon
        d.wait_for(lambda: len(d.tokens()) == 1, timeout, "the card's token on the bus")
        path = d.tokens()[0]
        d.wait_for(lambda: d.get(path, TOKEN, "UserPinRetriesSource") == "card", timeout,
                   "the card's retry counters")
        return path

    # tokend's side
    def call(self, method, signature, *args):
        return self.daemon.call(self.path, method, signature, *args)

    def timed_call(self, method, signature, *args):
        """(reply data, seconds) of one call through busctl."""
        start = time.monotonic()
        data = self.call(method, signature, *args)
        return data, time.monotonic() - start

    def call_error(self, method, *gvariant_args):
        return self.daemon.call_error(self.path, method, *gvariant_args)

    def prop(self, name):
        return self.daemon.get(self.path, TOKEN, name)

    def objects(self, pin=None):
        """ListObjects through tokend, as sorted (class, id hex, label) tuples."""
        kw = {"pin": pin.encode()} if pin else {}
        got = self.call("ListObjects", "a{sv}", *options(**kw))[0]
        return sorted((o["class"]["data"], bytes(o["id"]["data"]).hex(), o["label"]["data"])
                      for o in got)

    # the card's side
    def counters(self, ref=1):
        """The card's own counters for PIN reference ref: (tries, max, puk tries, puk max)."""
        reply = self.card.control(f"pin {ref}")
        m = re.search(r"tries=(\d+)/(\d+) puk=(\d+)/(\d+)", reply)
        if not m:
            raise AssertionError(f"tokend-sim answered {reply!r} to 'pin {ref}'")
        return tuple(int(x) for x in m.groups())

    def pkcs11_tool(self, *args, pin=None, so_pin=None):
        """pkcs11-tool on OpenSC with the card's pcscd and configuration; (status, output)."""
        env = dict(self.sim.env)
        cmd = ["pkcs11-tool", "--module", OPENSC]
        if pin is not None:
            env[PIN_ENV] = pin
            cmd += ["--login", "--pin", f"env:{PIN_ENV}"]
        if so_pin is not None:
            env[SO_PIN_ENV] = so_pin
            cmd += ["--so-pin", f"env:{SO_PIN_ENV}"]
        p = subprocess.run(cmd + list(args), env=env, capture_output=True, text=True,
                           timeout=60, stdin=subprocess.DEVNULL)
        return p.returncode, p.stdout + p.stderr

    def p11_objects(self, pin=None, kind=None):
        """pkcs11-tool's listing as sorted (class, id hex, label) tuples."""
        args = ["--list-objects"] + (["--type", kind] if kind else [])
        rc, out = self.pkcs11_tool(*args, pin=pin)
        assert rc == 0, out
        found, current = [], None
        names = {"Private Key Object": "private-key", "Public Key Object": "public-key",
                 "Certificate Object": "certificate"}
        for line in out.splitlines():
            head = next((v for k, v in names.items() if line.startswith(k)), None)
            if head:
                current = {"class": head, "label": "", "id": ""}
                found.append(current)
            elif current is not None and line.strip().startswith("label:"):
                current["label"] = line.split(":", 1)[1].strip()
            elif current is not None and line.strip().startswith("ID:"):
                current["id"] = line.split(":", 1)[1].strip()
        return sorted((o["class"], o["id"], o["label"]) for o in found)

    def login_works(self, pin):
        rc, _ = self.pkcs11_tool("--list-objects", pin=pin)
        return rc == 0

    # signals
    def start_monitor(self):
        """dbus-monitor on the private bus for the Manager's signals, into a file."""
        self.monitor_path = os.path.join(self.daemon.dir, "monitor.log")
        self.monitor_file = open(self.monitor_path, "w")
        self.monitor = subprocess.Popen(
            ["dbus-monitor", "--address", self.daemon.address,
             f"type='signal',interface='{MANAGER}'"],
            stdout=self.monitor_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        # dbus-monitor prints its own NameAcquired/NameLost first: then it is listening.
        end = time.monotonic() + 5
        while time.monotonic() < end:
            with open(self.monitor_path) as f:
                if "NameLost" in f.read():
                    return
            time.sleep(0.05)
        raise AssertionError("dbus-monitor did not start")

    def signals(self):
        """[(member, object path)] of the Manager's signals seen so far."""
        with open(self.monitor_path) as f:
            text = f.read()
        out = []
        for m in re.finditer(r"^signal .*member=(\w+)\n\s+object path \"([^\"]*)\"", text,
                             re.MULTILINE):
            out.append((m.group(1), m.group(2)))
        return out

    def stop_monitor(self):
        if self.monitor and self.monitor.poll() is None:
            self.monitor.terminate()
            try:
                self.monitor.wait(5)
            except subprocess.TimeoutExpired:
                self.monitor.kill()
                self.monitor.wait()
        if self.monitor:
            self.monitor_file.close()
        self.monitor = None

    def close(self):
        self.stop_monitor()
        if self.daemon:
            self.daemon.close()
        self.sim.close()


__all__ = ["CardEnv", "CallError", "MANAGER", "ROOT", "TOKEN", "gvariant_options", "need_cards",
           "options"]
