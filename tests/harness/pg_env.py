# SPDX-License-Identifier: LGPL-2.1-or-later
"""A private PostgreSQL 15 server for a test: a cluster made by initdb in a temp dir, listening
on a unix socket there only (listen_addresses=''), run as the unprivileged user nobody (the
server refuses to run as root), and stopped by its PID.

The superuser is postgres, trusted on the socket; the roles a test makes with a password
(`role(..., password=...)`) must give it (pg_hba.conf asks for scram-sha-256 for them)."""

import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from tap import skip
from tokend_env import reachable_tmp

BIN = "/usr/lib/postgresql/15/bin"
USER = "nobody"


def need_postgresql():
    for p in ("initdb", "pg_ctl", "postgres", "psql"):
        if not os.access(f"{BIN}/{p}", os.X_OK):
            skip(f"{BIN}/{p} is not installed (postgresql-15)")
    if os.geteuid() != 0:
        skip("needs root, to run the server as another user")


class PgEnv:
    def __init__(self, password_roles=()):
        # pg_ctl leaves the server running on its own: a test stopped by SIGTERM (meson's
        # timeout) stops it first, then exits through its finally blocks for the rest.
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, self._terminated)
        account = pwd.getpwnam(USER)
        self.uid, self.gid = account.pw_uid, account.pw_gid
        self.dir = tempfile.mkdtemp(prefix="tokend-pg.", dir=reachable_tmp())
        self.data = f"{self.dir}/data"
        self.pid = None
        try:
            os.chown(self.dir, self.uid, self.gid)
            os.chmod(self.dir, 0o700)
            self._as_user([f"{BIN}/initdb", "-D", self.data, "-U", "postgres", "--auth=trust",
                           "-E", "UTF8", "--no-sync", "--no-instructions"])
            with open(f"{self.data}/pg_hba.conf", "w") as f:
                for role in password_roles:
                    f.write(f"local all {role} scram-sha-256\n")
                f.write("local all all trust\n")
            self.start()
        except BaseException:
            self.close()
            raise

    def _terminated(self, *_):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        self.stop()
        sys.exit(128 + signal.SIGTERM)

    def _as_user(self, argv, check=True):
        p = subprocess.run(["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}",
                            "--clear-groups", "--"] + argv, capture_output=True, text=True,
                           cwd=self.dir, stdin=subprocess.DEVNULL, timeout=120)
        if check and p.returncode != 0:
            raise AssertionError(f"{argv[0]} failed: {p.stdout}{p.stderr}")
        return p

    def start(self):
        self._as_user([f"{BIN}/pg_ctl", "-D", self.data, "-l", f"{self.dir}/server.log", "-w",
                       "-o", f"-k {self.dir} -c listen_addresses='' -c fsync=off", "start"])
        with open(f"{self.data}/postmaster.pid") as f:
            self.pid = int(f.readline())

    def stop(self):
        """pg_ctl stop -m immediate, then the server's PID checked gone."""
        if self.pid is None:
            return
        self._as_user([f"{BIN}/pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop"],
                      check=False)
        end = time.monotonic() + 10
        while os.path.exists(f"/proc/{self.pid}") and time.monotonic() < end:
            time.sleep(0.05)
        if os.path.exists(f"/proc/{self.pid}"):
            os.kill(self.pid, signal.SIGKILL)
        self.pid = None

    def conninfo(self, user, dbname="tokend", password=None):
        s = f"host={self.dir} dbname={dbname} user={user}"
        return s + (f" password={password}" if password else "")

    def psql(self, sql, user="postgres", dbname="tokend", password=None, check=True):
        """(status, output) of psql -c sql on the socket."""
        env = dict(os.environ, PGPASSWORD=password) if password else None
        p = subprocess.run(["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", self.dir, "-U",
                            user, "-d", dbname, "-c", sql], capture_output=True, text=True,
                           env=env, stdin=subprocess.DEVNULL, timeout=60)
        if check and p.returncode != 0:
            raise AssertionError(f"psql {sql!r}: {p.stdout}{p.stderr}")
        return p.returncode, (p.stdout + p.stderr).strip()

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
