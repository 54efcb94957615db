# SPDX-License-Identifier: LGPL-2.1-or-later
"""Simulated smart cards for tests: a private pcscd with vpcd readers, one tokend-sim card per
reader and a private OpenSC configuration.

    with simenv.SimEnv(cards=1, personalise=True) as env:
        subprocess.run(["pkcs11-tool", "--module", simenv.OPENSC_PKCS11, "-L"], env=env.env)

pcscd runs in a private mount namespace with a tmpfs on /run and a directory of ours bound on
/run/pcscd, so it neither sees nor touches the host's PC/SC service; clients find it through
PCSCLITE_CSOCK_NAME. Everything else lives in one temp dir, removed at the end, and every
process started here is stopped by its PID (on exceptions and SIGTERM too; a parent-death
signal covers the harness being killed outright).

PINs reach OpenSC's tools through the environment (`--pin env:TOKEND_SIM_PIN`), never through a
command line that other users can read in /proc.

Without root or a piece of the stack, Unavailable is raised: tokend-test-env turns it into exit
77 (tap.SKIP), TAP tests into a SKIP plan (tap.skip)."""

import ctypes
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time

VPCD_DRIVER = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
OPENSC_PKCS11 = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"
READER_BASENAME = "Virtual PCD"
MAX_READERS = 16

PIN_VAR = "TOKEND_SIM_PIN"
PUK_VAR = "TOKEND_SIM_PUK"
SO_PIN_VAR = "TOKEND_SIM_SO_PIN"
SO_PUK_VAR = "TOKEND_SIM_SO_PUK"

OPENSC_CONF = """app default {
    framework pkcs15 {
    }
    pkcs11 {
        user_pin_unblock_style = set_pin_in_unlogged_session;
    }
}
"""

_SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_PR_SET_PDEATHSIG = 1


class Unavailable(Exception):
    """This machine cannot run the simulated cards (not root, a package or the build missing)."""


class SimError(Exception):
    """A step of the harness failed: the message carries what the tool said."""


def die_with_parent():
    # Runs in the child between fork and exec: if the harness is killed outright, its
    # processes get SIGTERM instead of living on. The setting survives exec.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def build_dir():
    return os.environ.get("TOKEND_BUILD_DIR") or os.path.join(_SOURCE_DIR, "build")


def sim_binary():
    return os.environ.get("TOKEND_SIM") or os.path.join(build_dir(), "tests", "sim", "tokend-sim")


def _which(program):
    return shutil.which(program, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")


def check_available(cards=0, opensc=True):
    """Raises Unavailable naming the first thing missing for `cards` simulated cards."""
    if os.geteuid() != 0:
        raise Unavailable("needs root (pcscd in a private mount namespace)")
    programs = ["unshare", "mount", "pcscd"]
    if opensc:
        programs += ["opensc-tool", "pkcs15-init", "pkcs15-tool", "pkcs11-tool"]
    for p in programs:
        if not _which(p):
            raise Unavailable(f"{p} is not installed")
    if not os.path.exists(VPCD_DRIVER):
        raise Unavailable(f"vpcd is not installed ({VPCD_DRIVER})")
    if opensc and not os.path.exists(OPENSC_PKCS11):
        raise Unavailable(f"OpenSC's PKCS#11 module is not installed ({OPENSC_PKCS11})")
    if cards and not os.access(sim_binary(), os.X_OK):
        raise Unavailable(f"the card simulator is not built ({sim_binary()})")


def _tail(path):
    """The end of a log file, for a failure message; empty when there is none."""
    try:
        with open(path) as f:
            return f.read()[-4000:]
    except OSError:
        return ""


def _port_pair_free(port):
    try:
        for p in (port, port + 1):
            with socket.socket() as s:
                s.bind(("0.0.0.0", p))
    except OSError:
        return False
    return True


def _free_ports(count):
    """`count` port pairs (vpcd takes PORT and PORT+1), apart from each other."""
    ports = []
    for _ in range(200):
        port = 20000 + secrets.randbelow(20000) * 2
        if any(abs(port - p) < 2 for p in ports) or not _port_pair_free(port):
            continue
        ports.append(port)
        if len(ports) == count:
            return ports
    raise SimError("no free ports for the vpcd readers")


def _listening_inodes(ports):
    """Socket inodes listening on the given TCP ports (IPv4 and IPv6)."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            port = int(fields[1].rsplit(":", 1)[1], 16)
            if fields[3] == "0A" and port in ports:
                found[port] = fields[9]
    return found


def _socket_inodes(pid):
    out = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                out.add(target[8:-1])
    except OSError:
        pass
    return out


def _stop(proc, timeout=10):
    """SIGTERM to one process we started, by its PID; SIGKILL if it does not go."""
    if proc is None or proc.poll() is not None:
        return
    try:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Pcscd:
    """A private pcscd whose readers are vpcd's: reader i is on port ports[i // 2] + i % 2.

    Each reader.conf.d entry gives two readers; entry 0 is named "Virtual PCD" (readers
    "Virtual PCD 00 00" and "Virtual PCD 00 01"), entry k "Virtual PCD k" (readers
    "Virtual PCD k 00 00" and "… 00 01"), as pcscd gives entries of the same name the same
    reader names. `entry_names` names the entries otherwise (distinct names, one an entry)."""

    def __init__(self, directory, readers=2, entry_names=None):
        if not 1 <= readers <= MAX_READERS:
            raise ValueError(f"pcscd takes 1 to {MAX_READERS} readers")
        self.dir = directory
        self.entries = (readers + 1) // 2
        self.entry_names = list(entry_names or [])
        if len(self.entry_names) > self.entries or len(set(self.entry_names)) < len(
                self.entry_names):
            raise ValueError("one distinct name an entry")
        self.proc = None
        self.conf_dir = os.path.join(directory, "reader.conf.d")
        self.run_dir = os.path.join(directory, "pcscd-run")
        self.socket = os.path.join(self.run_dir, "pcscd.comm")
        self.log_path = os.path.join(directory, "pcscd.log")
        os.makedirs(self.conf_dir, exist_ok=True)
        os.makedirs(self.run_dir, exist_ok=True)
        self.ports = []
        self.reader_names = []
        self.reader_ports = []

    @property
    def env(self):
        return {"PCSCLITE_CSOCK_NAME": self.socket}

    def _configure(self):
        self.ports = _free_ports(self.entries)
        self.reader_names, self.reader_ports = [], []
        with open(os.path.join(self.conf_dir, "vpcd"), "w") as f:
            for k, port in enumerate(self.ports):
                name = (self.entry_names[k] if k < len(self.entry_names)
                        else READER_BASENAME if k == 0 else f"{READER_BASENAME} {k}")
                f.write(f'FRIENDLYNAME "{name}"\nDEVICENAME /dev/null:{port}\n'
                        f"LIBPATH {self._driver(k)}\nCHANNELID {port}\n\n")
                for slot in range(2):
                    self.reader_names.append(f"{name} 00 {slot:02d}")
                    self.reader_ports.append(port + slot)

    def _driver(self, k):
        """vpcd's driver for entry k. The driver keeps its connections in a static array indexed
        by slot, and pcscd loads a library path once for all entries naming it: a second entry
        on the same file would take over the first one's slots. A copy of the file per entry
        is loaded on its own (a link would not be: the dynamic loader matches the inode)."""
        if k == 0:
            return VPCD_DRIVER
        path = os.path.join(self.dir, f"vpcd-{k}", os.path.basename(VPCD_DRIVER))
        if any(c.isspace() for c in path):
            raise SimError(f"pcscd's reader.conf cannot take a path with a space: {path}")
        if not os.path.exists(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            shutil.copy(VPCD_DRIVER, path)
        return path

    def _spawn(self):
        try:
            os.unlink(self.socket)
        except FileNotFoundError:
            pass
        with open(self.log_path, "a") as log:
            self.proc = subprocess.Popen(
                ["unshare", "-m", "--propagation", "private", "sh", "-c",
                 # A tmpfs on /run in this namespace only, so nothing is created on the host;
                 # exec keeps the PID we hold pcscd's own.
                 'mount -t tmpfs tmpfs /run && mkdir /run/pcscd && '
                 'mount --bind "$1" /run/pcscd && exec "$2" -f -c "$3"',
                 "sh", self.run_dir, _which("pcscd"), self.conf_dir],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent)

    def _ready(self, timeout):
        """Whether pcscd answers on its socket and vpcd listens on every port from within it."""
        want = set(self.reader_ports)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise SimError(f"pcscd exited with {self.proc.returncode}: {self.log()}")
            if os.path.exists(self.socket):
                listening = _listening_inodes(want)
                if set(listening) == want:
                    return set(listening.values()) <= _socket_inodes(self.proc.pid)
            time.sleep(0.05)
        raise SimError(f"pcscd did not come up within {timeout} s: {self.log()}")

    def start(self, timeout=10):
        # Another process may take a port between choosing and binding it: then start again
        # with other ports.
        for _ in range(3):
            self._configure()
            self._spawn()
            if self._ready(timeout):
                return
            _stop(self.proc)
        raise SimError("vpcd could not listen on its ports")

    def restart(self, timeout=10):
        """pcscd stopped and started again on the same ports (the readers keep their names)."""
        self.stop()
        self._spawn()
        if not self._ready(timeout):
            raise SimError("vpcd could not listen on its ports again")

    def stop(self):
        _stop(self.proc)

    def log(self):
        return _tail(self.log_path)


class SimCard:
    """One tokend-sim process playing a card to one vpcd reader."""

    def __init__(self, directory, index, port, reader, serial=None, removed=False,
                 delay_ms=None, atr=None):
        self.index = index
        self.port = port
        self.reader = reader
        self.serial = serial or secrets.token_hex(10)
        self.state = os.path.join(directory, f"card{index}.state")
        self.control_path = os.path.join(directory, f"card{index}.ctl")
        self.log_path = os.path.join(directory, f"card{index}.log")
        self.removed = removed
        self.delay_ms = delay_ms
        self.atr = atr
        self.proc = None

    def start(self, timeout=5):
        args = [sim_binary(), "--port", str(self.port), "--state", self.state,
                "--control", self.control_path, "--serial", self.serial]
        if self.delay_ms is not None:
            args += ["--delay-ms", str(self.delay_ms)]
        if self.atr:
            args += ["--atr", self.atr]
        if self.removed:
            args.append("--removed")
        try:
            os.unlink(self.control_path)
        except FileNotFoundError:
            pass
        with open(self.log_path, "a") as log:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise SimError(f"tokend-sim exited with {self.proc.returncode}: {self.log()}")
            if os.path.exists(self.control_path):
                try:
                    self.control("status")
                    return
                except OSError:
                    pass
            time.sleep(0.05)
        raise SimError(f"tokend-sim did not open its control socket: {self.log()}")

    def stop(self):
        _stop(self.proc)

    def control(self, command, timeout=10):
        """Sends one command line; returns the text after "ok", raises SimError on "error"."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(self.control_path)
            s.sendall(command.encode() + b"\n")
            reply = b""
            while not reply.endswith(b"\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                reply += chunk
        line = reply.decode(errors="replace").strip()
        if line == "ok" or line.startswith("ok "):
            return line[3:]
        raise SimError(f"tokend-sim {command!r}: {line or 'no answer'}")

    def insert(self):
        self.removed = False
        return self.control("insert")

    def remove(self):
        self.removed = True
        return self.control("remove")

    def delay(self, ms):
        self.delay_ms = ms
        return self.control(f"delay {ms}")

    def status(self):
        return self.control("status")

    def log(self):
        return _tail(self.log_path)


def _digits(n):
    return "".join(str(secrets.randbelow(10)) for _ in range(n))


class SimEnv:
    """pcscd, `cards` simulated cards (card i in reader i) and OpenSC's configuration.

    `env` is the environment for clients: PCSCLITE_CSOCK_NAME, OPENSC_CONF, and per card
    TOKEND_SIM_CONTROL_<i> and TOKEND_SIM_READER_<i>, plus the personalisation secrets
    TOKEND_SIM_PIN, _PUK, _SO_PIN and _SO_PUK (random per environment unless given). `serials`
    gives each card its serial (20 hex digits; random unless given). `atr` is the ATR every card
    answers with, in hex (MyEID 4.5's unless given): another MyEID implementation's, say.
    `reader_entry_names` names pcscd's reader entries (two readers each; see Pcscd)."""

    def __init__(self, cards=1, personalise=False, readers=None, label="tokend sim",
                 pin=None, puk=None, so_pin=None, so_puk=None, delay_ms=None, removed=False,
                 serials=None, atr=None, reader_entry_names=None):
        readers = readers or max(2, cards + cards % 2)
        if cards > readers:
            raise ValueError("one reader per card")
        if serials is not None and len(serials) != cards:
            raise ValueError("one serial per card")
        self.serials = serials
        self.atr = atr
        self.reader_entry_names = reader_entry_names
        self.cards_wanted = cards
        self.readers_wanted = readers
        self.personalise_cards = personalise
        self.label = label
        self.delay_ms = delay_ms
        self.start_removed = removed
        self.pin = pin or _digits(6)
        self.puk = puk or _digits(8)
        self.so_pin = so_pin or _digits(8)
        self.so_puk = so_puk or _digits(8)
        self.dir = None
        self.pcscd = None
        self.cards = []
        self.env = None
        self._old_handlers = {}

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def start(self):
        check_available(self.cards_wanted)
        self._catch_signals()
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    def _start(self):
        self.dir = tempfile.mkdtemp(prefix="tokend-sim.")
        if len(os.path.join(self.dir, "card00.ctl")) >= 108 or any(c.isspace() for c in self.dir):
            # A unix socket path must fit sun_path, and pcscd's reader.conf cannot name a
            # driver copy whose path has a space.
            os.rmdir(self.dir)
            self.dir = tempfile.mkdtemp(prefix="tokend-sim.", dir="/tmp")
        os.chmod(self.dir, 0o700)
        conf = os.path.join(self.dir, "opensc.conf")
        with open(conf, "w") as f:
            f.write(OPENSC_CONF)
        self.pcscd = Pcscd(self.dir, self.readers_wanted, self.reader_entry_names)
        self.pcscd.start()
        self.env = dict(os.environ, OPENSC_CONF=conf, **self.pcscd.env)
        self.env.update({PIN_VAR: self.pin, PUK_VAR: self.puk, SO_PIN_VAR: self.so_pin,
                         SO_PUK_VAR: self.so_puk})
        for i in range(self.cards_wanted):
            card = SimCard(self.dir, i, self.pcscd.reader_ports[i], self.pcscd.reader_names[i],
                           serial=self.serials[i] if self.serials else None,
                           removed=self.start_removed, delay_ms=self.delay_ms, atr=self.atr)
            self.cards.append(card)
            card.start()
            self.env[f"TOKEND_SIM_CONTROL_{i}"] = card.control_path
            self.env[f"TOKEND_SIM_READER_{i}"] = card.reader
        for i in range(len(self.cards)):
            if not self.start_removed:
                self.wait_card(i, True)
            if self.personalise_cards:
                self.personalise(i)

    def _catch_signals(self):
        # SIGTERM would end Python without unwinding: turn it into an exception so that the
        # processes are stopped. Only where nobody else handles it, and only in the main thread.
        def raise_exit(signum, frame):
            raise SystemExit(128 + signum)
        for sig in (signal.SIGTERM, signal.SIGHUP):
            try:
                if signal.getsignal(sig) == signal.SIG_DFL:
                    self._old_handlers[sig] = signal.signal(sig, raise_exit)
            except ValueError:
                pass

    def close(self):
        for card in reversed(self.cards):
            card.stop()
        if self.pcscd:
            self.pcscd.stop()
        for sig, handler in self._old_handlers.items():
            signal.signal(sig, handler)
        self._old_handlers = {}
        if self.dir:
            if os.environ.get("TOKEND_TEST_KEEP"):
                print(f"# kept {self.dir}")
            else:
                shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def run(self, args, timeout=120, check=False, input=None):
        """Runs a client with this environment; returns (exit status, stdout + stderr)."""
        p = subprocess.run(args, env=self.env, capture_output=True, text=True, timeout=timeout,
                           stdin=None if input is not None else subprocess.DEVNULL, input=input)
        out = p.stdout + p.stderr
        if check and p.returncode != 0:
            raise SimError(f"{' '.join(args)} exited with {p.returncode}:\n{out}")
        return p.returncode, out

    def readers(self):
        """{reader name: card present} as OpenSC sees them."""
        _, out = self.run(["opensc-tool", "--list-readers"], timeout=30)
        found = {}
        name_at = None
        for line in out.splitlines():
            if line.startswith("Nr.") and "Name" in line:
                name_at = line.index("Name")
            elif name_at is not None and line[:1].isdigit():
                fields = line.split()
                found[line[name_at:].strip()] = fields[1] == "Yes"
        return found

    def wait_card(self, index, present=True, timeout=10):
        """Waits until pcscd sees card `index` in (or out of) its reader."""
        reader = self.cards[index].reader
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.readers().get(reader) == present:
                return
            time.sleep(0.1)
        raise SimError(f"{reader}: card still {'absent' if present else 'present'} after "
                       f"{timeout} s; tokend-sim log:\n{self.cards[index].log()}")

    def personalise(self, index, label=None):
        """A PKCS#15 structure with user PIN (ID 01) and PUK and an SO PIN, finalised, as an
        issuing station does it with OpenSC's pkcs15-init."""
        reader = self.cards[index].reader
        label = label or (self.label if len(self.cards) == 1 else f"{self.label} {index}")
        steps = [
            ["--create-pkcs15", "--so-pin", f"env:{SO_PIN_VAR}", "--so-puk", f"env:{SO_PUK_VAR}",
             "--label", label],
            ["--store-pin", "--id", "01", "--pin", f"env:{PIN_VAR}", "--puk", f"env:{PUK_VAR}",
             "--so-pin", f"env:{SO_PIN_VAR}", "--label", "User PIN"],
            ["--finalize"],
        ]
        for step in steps:
            self.run(["pkcs15-init", "--reader", reader, *step], check=True)

    def restart_pcscd(self):
        self.pcscd.restart()
