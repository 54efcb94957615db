# SPDX-License-Identifier: LGPL-2.1-or-later
"""A private system bus, SoftHSM2 tokens and a tokend on them, for the daemon's tests.

Everything lives in a temp dir and every process started here is stopped by its PID.

A program that a test runs as another user is a copy (Env.copy_for_other_users), run in a
directory of its own (Env.other_users_dir): that user may not reach the checkout or the build
tree at all, a checkout under /root (mode 0700) for one."""

import hashlib
import hmac
import json
import grp
import os
import pty
import pwd
import re
import select
import shutil
import signal
import socket
import stat
import string
import subprocess
import tempfile
import time

import simenv
from tap import skip

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
BUS_NAME = "org.tokend.Tokend1"
ROOT = "/org/tokend/Tokend1"
MANAGER = "org.tokend.Tokend1.Manager"
TOKEN = "org.tokend.Tokend1.Token"
USER_PIN = "318274"
SO_PIN = "so-pin-5512"


def need(*programs):
    if os.geteuid() != 0:
        skip("needs root (tokend allows token changes to root only without polkit)")
    for p in programs:
        if not shutil.which(p) and not os.path.exists(p):
            skip(f"{p} is not installed")


def reachable_tmp():
    """Where a temp dir of ours is within every user's reach: tempfile's location (/tmp unless
    TMPDIR says otherwise) when each directory on the way there is searchable by all, else
    /tmp."""
    tmp = os.path.realpath(tempfile.gettempdir())
    path = tmp
    while True:
        if not os.stat(path).st_mode & stat.S_IXOTH:
            return "/tmp"
        if path == os.sep:
            return tmp
        path = os.path.dirname(path)


def copy_for_other_users(program, directory):
    """A copy of program in directory (root's, mode 0755) that another user can run wherever
    the checkout is. It must load nothing from the build or source tree (tokenctl and
    tokend-worker link the project's libraries statically): ldd shows where each library comes
    from."""
    copy = os.path.join(directory, os.path.basename(program))
    shutil.copyfile(program, copy)
    os.chmod(copy, 0o755)
    p = subprocess.run(["ldd", copy], capture_output=True, text=True)
    trees = [os.path.realpath(os.environ[d]) + os.sep
             for d in ("TOKEND_BUILD_DIR", "TOKEND_SOURCE_DIR") if os.environ.get(d)]
    for line in p.stdout.splitlines():
        if "not found" in line:
            raise AssertionError(f"{program}: {line.strip()}")
        m = re.search(r"(/.*) \(0x[0-9a-f]+\)$", line)
        lib = m and os.path.realpath(m.group(1).split("=> ")[-1])
        if lib and any(lib.startswith(t) for t in trees):
            raise AssertionError(f"{program} loads {lib} from the build or source tree: "
                                 "another user may not reach it, copy it too")
    return copy


def bus_address(path):
    """The D-Bus address of a unix socket: bytes outside the spec's optionally-escaped set (a
    space in TMPDIR, say) written %XX, as the address syntax wants."""
    safe = (string.ascii_letters + string.digits + "-_/.\\*").encode()
    return "unix:path=" + "".join(chr(b) if b in safe else f"%{b:02x}"
                                  for b in os.fsencode(path))


def exec_as(argv, env, uid=None, cwd=None):
    """In a child just forked (pty.fork): becomes uid (its own group, no supplementary ones) in
    cwd and execs argv. Never returns, not even when that fails: the child would otherwise go on
    running the rest of the test, as that user."""
    try:
        if cwd:
            os.chdir(cwd)
        if uid is not None:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
        os.execve(argv[0], argv, env)
    finally:
        os._exit(127)


def run_on_pty(argv, env):
    """Runs argv on a pseudo-terminal of its own (standard input, output and error) until it
    exits; returns its exit status and all it wrote there."""
    pid, fd = pty.fork()
    if pid == 0:
        exec_as(argv, env)
    out = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO once the child has closed its side
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), out


class JsonLines:
    """The JSON documents a running program writes to a pipe one a line (tokenctl --json
    monitor), read as they come."""

    def __init__(self, stream):
        self.stream = stream
        self.buf = b""
        self.docs = []

    def read(self, until, timeout=10):
        """Reads until until() holds, the pipe is closed or timeout seconds have passed."""
        end = time.monotonic() + timeout
        while time.monotonic() < end and not until():
            r, _, _ = select.select([self.stream], [], [], 0.2)
            if not r:
                continue
            chunk = os.read(self.stream.fileno(), 65536)
            if not chunk:
                break
            self.buf += chunk
            *lines, self.buf = self.buf.split(b"\n")
            self.docs += [json.loads(line) for line in lines if line]

    def events(self, kind):
        return [d for d in self.docs if d.get("event") == kind]


def derive_so_pin(key, serial, digits=8):
    """The site-key SO PIN of docs/decisions.md (HMAC-SHA256 of the serial, rendered as
    digits), computed independently of tokend."""
    out, block, counter = "", hmac.new(key, serial.encode(), hashlib.sha256).digest(), 0
    while True:
        for b in block:
            if b < 250:
                out += str(b % 10)
                if len(out) == digits:
                    return out
        counter += 1
        block = hmac.new(key, serial.encode() + b"\0" + counter.to_bytes(4, "big"),
                         hashlib.sha256).digest()


def issue_with_test_ca(directory, request, ca_subject):
    """A test CA (openssl, in directory) issues a certificate for the request file there.
    Returns the certificate (PEM, also left in holder.pem) and the CA's (DER)."""
    def run(*args):
        p = subprocess.run(args, capture_output=True, text=True, cwd=directory)
        assert p.returncode == 0, f"{args}: {p.stderr}"
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-subj", ca_subject, "-days", "30")
    run("openssl", "x509", "-req", "-in", request, "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "holder.pem", "-days", "30")
    run("openssl", "x509", "-in", "ca.pem", "-outform", "DER", "-out", "ca.der")
    with open(f"{directory}/holder.pem", "rb") as f:
        cert = f.read()
    with open(f"{directory}/ca.der", "rb") as f:
        ca = f.read()
    return cert, ca


def ay(s):
    """A string as busctl's ay arguments."""
    b = s.encode() if isinstance(s, str) else bytes(s)
    return ["ay", str(len(b))] + [str(x) for x in b]


def options(**kw):
    """An a{sv} for busctl: secrets and ids (bytes) as ay, str as s, bool as b, list as as."""
    args = [str(len(kw))]
    for k, v in kw.items():
        k = k.replace("_", "-")
        if isinstance(v, bool):
            args += [k, "b", "true" if v else "false"]
        elif isinstance(v, (bytes, bytearray)):
            args += [k] + ay(v)
        elif isinstance(v, list) and v and isinstance(v[0], (bytes, bytearray)):
            args += [k, "aay", str(len(v))]
            for blob in v:
                args += [str(len(blob))] + [str(x) for x in blob]
        elif isinstance(v, list):
            args += [k, "as", str(len(v))] + v
        else:
            args += [k, "s", v]
    return args


def gvariant_options(**kw):
    """The same dict in GVariant text, for gdbus."""
    items = []
    for k, v in kw.items():
        k = k.replace("_", "-")
        if isinstance(v, bool):
            items.append(f"'{k}': <{'true' if v else 'false'}>")
        elif isinstance(v, (bytes, bytearray)):
            items.append(f"'{k}': <@ay [{', '.join('0x%02x' % x for x in v) or ''}]>")
        else:
            items.append(f"'{k}': <'{v}'>")
    return "@a{sv} {" + ", ".join(items) + "}"


def fill_file_system(path):
    """Writes zeros to a new file at path until its file system takes no more; the caller
    removes the file to free the space again."""
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass


class CallError(Exception):
    def __init__(self, name, message):
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


class Env:
    """state_dir: tokend's --state-dir (@DIR@ for the temp dir), the temp dir itself unless
    given. wait: for tokend's tokens on the bus; without it the test watches tokend itself (one
    that must refuse to start, say). run_as: a user name to run tokend (and so its workers) as,
    as the shipped unit does with the user tokend; the temp dir is then that user's, and tokend
    and its worker are copies that user can run. audit_group: the audit trail goes into a
    directory log/ of that group, set-group-ID and mode 2750, as tmpfiles.d makes
    /var/log/tokend for the group tokend-audit; without it, the trail is in the temp dir."""

    def __init__(self, labels=("token-a",), scan_interval_ms=200, worker_timeout=None,
                 extra_config="", module_link_name=None, extra_policies=(), modules=None,
                 pcscd=False, launcher=(), state_dir=None, wait=True, tokend_args=(),
                 run_as=None, audit_group=None):
        # Within reach of other users, for the tests that open it to them (the bus socket).
        self.dir = tempfile.mkdtemp(prefix="tokend-daemon-test.", dir=reachable_tmp())
        self.shared = None
        self.pids = []
        self.pcscd = None
        self.failed_shutdown = False
        try:
            self.build = os.environ.get("TOKEND_BUILD_DIR")
            self.source = os.environ.get("TOKEND_SOURCE_DIR")
            self.address = bus_address(f"{self.dir}/bus")
            os.makedirs(f"{self.dir}/tokens")
            os.makedirs(f"{self.dir}/policy")
            with open(f"{self.dir}/site.key", "wb") as f:
                os.fchmod(f.fileno(), 0o600)
                f.write(os.urandom(32))
            shutil.copy(f"{self.source}/systemd/org.tokend.Tokend1.conf", f"{self.dir}/policy/")
            for policy in extra_policies:
                shutil.copy(policy, f"{self.dir}/policy/")
            with open(f"{self.dir}/softhsm2.conf", "w") as f:
                f.write(f"directories.tokendir = {self.dir}/tokens\nobjectstore.backend = file\n")
            self.env = dict(os.environ, SOFTHSM2_CONF=f"{self.dir}/softhsm2.conf",
                            DBUS_SYSTEM_BUS_ADDRESS=self.address)
            # Never the system's pcscd: a private one when the test starts it, else none.
            self.env.setdefault("PCSCLITE_CSOCK_NAME", f"{self.dir}/no-pcscd.comm")
            for label in labels:
                self.init_token(label)
            if pcscd:
                self.start_pcscd()
            self.start_bus()
            # The module under another name, to be classified as that module would be.
            self.module = SOFTHSM_MODULE
            if module_link_name:
                self.module = f"{self.dir}/{module_link_name}"
                os.symlink(SOFTHSM_MODULE, self.module)
            self.audit_file = f"{self.dir}/audit.jsonl"
            if audit_group:
                os.makedirs(f"{self.dir}/log")
                self.audit_file = f"{self.dir}/log/audit.jsonl"
            with open(f"{self.dir}/tokend.conf", "w") as f:
                module_lines = "".join(f"Module={m}\n" for m in (modules or [self.module]))
                f.write(f"[Modules]\n{module_lines}[Audit]\nFile={self.audit_file}\n")
                f.write(extra_config.replace("@DIR@", self.dir))
            self.state_dir = (state_dir or "@DIR@").replace("@DIR@", self.dir)
            tokend, worker = f"{self.build}/daemon/tokend", f"{self.build}/daemon/tokend-worker"
            if run_as:
                tokend, worker = (self.copy_for_other_users(p) for p in (tokend, worker))
                account = pwd.getpwnam(run_as)
                for root, dirs, files in os.walk(self.dir):
                    for n in [root] + [os.path.join(root, x) for x in dirs + files]:
                        os.lchown(n, account.pw_uid, account.pw_gid)
                launcher = ["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}",
                            "--init-groups"] + list(launcher)
            if audit_group:
                # chown() clears the set-group-ID bit: the mode comes after.
                os.chown(f"{self.dir}/log", -1, grp.getgrnam(audit_group).gr_gid)
                os.chmod(f"{self.dir}/log", 0o2750)
            args = [tokend, "--config", f"{self.dir}/tokend.conf",
                    "--worker-path", worker,
                    "--scan-interval", str(scan_interval_ms), "--state-dir", self.state_dir]
            if worker_timeout:
                args += ["--worker-timeout", str(worker_timeout)]
            args += list(tokend_args)
            if os.environ.get("TOKEND_UNDER_VALGRIND") and shutil.which("valgrind"):
                # meson test --setup=valgrind: the daemon itself runs under memcheck (its workers,
                # started by exec, do not), and a report fails the test through the exit status.
                args = ["valgrind", "--quiet", "--error-exitcode=3", "--leak-check=full",
                        "--errors-for-leak-kinds=definite", "--show-leak-kinds=definite",
                        f"--suppressions={self.source}/tests/valgrind.supp"] + args
            # A launcher that execs (nsenter into a private journald's namespace) keeps the PID.
            self.tokend_argv = list(launcher) + args
            self.tokend_cwd = self.dir if run_as else None
            self.tokend_log = open(f"{self.dir}/tokend.log", "w")
            self.start_tokend()
            if wait:
                self.wait_for(lambda: len(self.tokens()) == len(labels), 10,
                              f"{len(labels)} token(s) on the bus")
        except BaseException:
            # A start that fails half-way leaves nothing running and no temp dir behind.
            self.abort()
            raise

    def start_tokend(self):
        """Starts tokend (again) with the same arguments, state directory and audit trail; its
        output goes on into the same log."""
        self.tokend = subprocess.Popen(self.tokend_argv, env=self.env, stdout=self.tokend_log,
                                       stderr=subprocess.STDOUT, cwd=self.tokend_cwd)
        self.pids.append(self.tokend.pid)

    def kill_tokend(self):
        """SIGKILLs tokend and reaps it: what a crash does. Its workers end with it (their
        parent-death signal)."""
        self.tokend.kill()
        self.tokend.wait()
        self.pids.remove(self.tokend.pid)

    def init_token(self, label):
        subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label,
                        "--pin", USER_PIN, "--so-pin", SO_PIN], env=self.env, check=True,
                       stdout=subprocess.DEVNULL)

    def start_pcscd(self):
        """A private pcscd with two vpcd readers (no card), in its own mount namespace."""
        self.pcscd = simenv.Pcscd(self.dir, readers=2)
        self.pcscd.start()
        self.env.update(self.pcscd.env)

    def start_bus(self):
        conf = f"""<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>{self.address}</listen>
  <auth>EXTERNAL</auth>
  <!-- dbus-daemon's largest message and array, not its 32 MiB system-bus default: tokend must
       hold against what a bus configured so lets through. -->
  <limit name="max_message_size">134217728</limit>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus"/>
  </policy>
  <!-- The shipped policy lets the user tokend alone own the name; the tests run tokend as
       root. -->
  <policy user="root">
    <allow own="org.tokend.Tokend1"/>
  </policy>
  <includedir>{self.dir}/policy</includedir>
</busconfig>
"""
        with open(f"{self.dir}/bus.conf", "w") as f:
            f.write(conf)
        self.bus = subprocess.Popen(["dbus-daemon", f"--config-file={self.dir}/bus.conf",
                                     "--nofork", "--nopidfile"], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
        self.pids.append(self.bus.pid)
        # The socket file appears when dbus-daemon binds it, a moment before it listens: a
        # client that connects in between is refused. Only a connection says it is ready.
        def listening():
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                try:
                    s.connect(f"{self.dir}/bus")
                    return True
                except OSError:
                    return False
        self.wait_for(listening, 5, "the private bus")

    def wait_for(self, predicate, timeout, what):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                if predicate():
                    return
            except (CallError, subprocess.CalledProcessError):
                pass
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}; tokend log:\n{self.log()}")

    def log(self):
        try:
            with open(f"{self.dir}/tokend.log") as f:
                return f.read()
        except FileNotFoundError:
            return "(tokend not started yet)"

    def busctl(self, *args, check=True):
        p = subprocess.run(["busctl", f"--address={self.address}", "--json=short", *args],
                           capture_output=True, text=True, env=self.env)
        if check and p.returncode != 0:
            raise CallError("busctl", p.stderr.strip())
        return json.loads(p.stdout) if p.stdout.strip() else None

    def call(self, path, method, signature, *args, interface=TOKEN):
        """Calls through busctl; returns the reply's data list."""
        r = self.busctl("call", BUS_NAME, path, interface, method, signature,
                        *[str(a) for a in args])
        return r["data"] if r else []

    def call_error(self, path, method, *gvariant_args, interface=TOKEN):
        """Calls through gdbus, which names the error; returns (name, message) or None."""
        p = subprocess.run(["gdbus", "call", "--address", self.address, "--dest", BUS_NAME,
                            "--object-path", path, "--method", f"{interface}.{method}",
                            "--", *gvariant_args], capture_output=True, text=True, env=self.env)
        if p.returncode == 0:
            return None
        err = p.stderr.strip()
        marker = "GDBus.Error:"
        if marker not in err:
            return ("unknown", err)
        rest = err[err.index(marker) + len(marker):]
        name, _, message = rest.partition(": ")
        return (name, message)

    def get(self, path, interface, prop):
        return self.busctl("get-property", BUS_NAME, path, interface, prop)["data"]

    def tokens(self):
        return self.get(ROOT, MANAGER, "Tokens")

    def token_by_label(self, label):
        for t in self.tokens():
            if self.get(t, TOKEN, "Label") == label:
                return t
        raise AssertionError(f"no token labelled {label}")

    def audit_records(self, path=None):
        """The audit trail's records (the configured file unless path is given), [] while
        there is none."""
        path = path or self.audit_file
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(line) for line in f]

    def pkcs11_tool(self, *args):
        p = subprocess.run(["pkcs11-tool", "--module", SOFTHSM_MODULE, *args],
                           capture_output=True, text=True, env=self.env)
        return p.returncode, p.stdout + p.stderr

    def other_users_dir(self):
        """A directory of root's (mode 0755) that every user can reach: where the copies for
        other users go, and their working directory instead of the build tree that meson starts
        tests in."""
        if not self.shared:
            self.shared = tempfile.mkdtemp(prefix="tokend-shared.", dir=reachable_tmp())
            os.chmod(self.shared, 0o755)
        return self.shared

    def copy_for_other_users(self, program):
        """A copy of program, in other_users_dir(), that another user can run wherever the
        checkout is (see copy_for_other_users() below)."""
        return copy_for_other_users(program, self.other_users_dir())

    def _remove_shared(self):
        if self.shared:
            shutil.rmtree(self.shared, ignore_errors=True)
            self.shared = None

    def remount(self, mount_point, options):
        """Remounts a file system of tokend's own mount namespace (one its launcher made)."""
        subprocess.run(["nsenter", "-t", str(self.tokend.pid), "-m", "mount", "-o",
                        f"remount,{options}", mount_point], check=True)

    def children(self):
        """[(PID, argv)] of tokend's child processes (its workers and scanners)."""
        out = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read().split(b"\0")
            except OSError:
                continue
            if ppid == self.tokend.pid:
                out.append((int(pid), cmd))
        return out

    def worker_pids(self):
        """The token workers: tokend's children started with --serial."""
        return [(pid, cmd[cmd.index(b"--serial") + 1].decode())
                for pid, cmd in self.children() if b"--serial" in cmd]

    def abort(self):
        for pid in reversed(self.pids):
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                continue
        if self.pcscd:
            self.pcscd.stop()
        self._remove_shared()
        shutil.rmtree(self.dir, ignore_errors=True)

    def close(self):
        for pid in reversed(self.pids):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        if self.pcscd:
            self.pcscd.stop()
        for p in (self.tokend, self.bus):
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.tokend_log.close()
        # A clean shutdown on SIGTERM, and nothing from the sanitizers in an ASan build.
        log = self.log()
        problems = [m for m in ("AddressSanitizer", "LeakSanitizer", "runtime error:")
                    if m in log]
        if self.tokend.returncode != 0 or problems:
            print(f"# tokend exited with {self.tokend.returncode} {problems}:")
            for line in log.splitlines()[-60:]:
                print(f"# {line}")
            self.failed_shutdown = True
        self._remove_shared()
        if os.environ.get("TOKEND_TEST_KEEP"):
            print(f"# kept {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


JOURNALD = "/lib/systemd/systemd-journald"


class PrivateJournal:
    """A systemd-journald of the test's own: it runs in a private mount namespace with a tmpfs
    on /run, so its sockets sit at the fixed paths that sd_journal_send() uses for processes
    started in that namespace (launcher()) and nowhere else, and it stores only in memory,
    below /run/log/journal, which is bound to a temp dir for journalctl -D. The host's journal,
    running or not, sees nothing of it."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="tokend-journal-test.")
        os.makedirs(f"{self.dir}/files")
        with open(f"{self.dir}/journald.conf", "w") as f:
            f.write("[Journal]\nStorage=volatile\nReadKMsg=no\nForwardToSyslog=no\n"
                    "ForwardToKMsg=no\nForwardToConsole=no\nForwardToWall=no\n"
                    "RateLimitIntervalSec=0\n")
        # The paths reach the script as arguments, never split or interpreted by the shell.
        script = ('mount -t tmpfs tmpfs /run && '
                  'mkdir -p /run/systemd/journal /run/systemd/journald.conf.d /run/log/journal && '
                  'cp "$1/journald.conf" /run/systemd/journald.conf.d/test.conf && '
                  'mount --bind "$1/files" /run/log/journal && exec "$2"')
        self.log = open(f"{self.dir}/journald.log", "w")
        # Its own messages go to the log file here, not to the kernel's ring buffer.
        self.proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c",
                                      script, "sh", self.dir, JOURNALD],
                                     env=dict(os.environ, SYSTEMD_LOG_TARGET="console"),
                                     stdout=self.log, stderr=subprocess.STDOUT)
        end = time.monotonic() + 10
        socket = f"/proc/{self.proc.pid}/root/run/systemd/journal/socket"
        while not os.path.exists(socket):
            if self.proc.poll() is not None or time.monotonic() > end:
                self.close()
                with open(f"{self.dir}/journald.log") as f:
                    raise RuntimeError(f"no private systemd-journald: {f.read().strip()}")
            time.sleep(0.05)

    def launcher(self):
        """The prefix that runs a program in the journal's namespace, under the same PID."""
        return ["nsenter", f"--mount=/proc/{self.proc.pid}/ns/mnt", "--"]

    def entries(self, *matches):
        """The stored entries (journalctl -o json, matches as journalctl takes them)."""
        p = subprocess.run(["journalctl", "-D", f"{self.dir}/files", "--no-pager", "-o", "json",
                            "--all", *matches], capture_output=True, text=True)
        if p.returncode != 0 and "No entries" not in p.stdout + p.stderr:
            raise RuntimeError(f"journalctl: {p.stderr.strip()}")
        return [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]

    def files(self):
        out = []
        for root, _, names in os.walk(f"{self.dir}/files"):
            out += [os.path.join(root, n) for n in names]
        return out

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        if os.environ.get("TOKEND_TEST_KEEP"):
            print(f"# kept {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
