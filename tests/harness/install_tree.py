# SPDX-License-Identifier: LGPL-2.1-or-later
"""tokend as a site installs it: this source tree configured with --prefix=/usr in a build
directory of its own (made once under the test build directory, then kept up to date by
ninja), and meson install --destdir of that build into a temp dir. The build under test may
have any prefix (/usr/local by default); the layout checked is the FHS one."""

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile

from tap import Tap, skip

SOURCE = os.environ["TOKEND_SOURCE_DIR"]
BUILD = os.environ["TOKEND_BUILD_DIR"]
MESON = os.environ.get("MESON", "meson")
USR_BUILD = os.path.join(BUILD, "tests", "install", "prefix-usr")

# The three installed programs; everything else is data.
PROGRAMS = ("/usr/bin/tokenctl", "/usr/sbin/tokend", "/usr/libexec/tokend/tokend-worker")


def need(*programs):
    for p in programs:
        if not shutil.which(p):
            skip(f"{p} is not installed")


def run(cmd, **kw):
    """Runs cmd, raising with its output when it fails."""
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)}: exit {p.returncode}\n{p.stdout}{p.stderr}")
    return p


def usr_build():
    """The build directory configured with --prefix=/usr, built. Tests in parallel share it:
    one configures and builds while the others wait for the lock."""
    # The man pages are part of the layout: without scdoc they would silently be left out.
    need("ninja", "scdoc")
    os.makedirs(os.path.dirname(USR_BUILD), exist_ok=True)
    with open(USR_BUILD + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(os.path.join(USR_BUILD, "build.ninja")):
            # A setup that was interrupted leaves a directory meson will not configure again.
            shutil.rmtree(USR_BUILD, ignore_errors=True)
            run([MESON, "setup", USR_BUILD, SOURCE, "--prefix=/usr", "-Dtests=false",
                 "-Dman=enabled", f"-Dwerror={os.environ.get('TOKEND_WERROR', 'false')}"])
        run(["ninja", "-C", USR_BUILD])
    return USR_BUILD


class Tree:
    """A temp dir holding the --prefix=/usr install, removed by close()."""

    def __init__(self):
        build = usr_build()
        self.root = tempfile.mkdtemp(prefix="tokend-install-test.")
        try:
            run([MESON, "install", "-C", build, "--destdir", self.root, "--no-rebuild",
                 "--quiet"])
        except BaseException:
            self.close()
            raise

    def path(self, installed):
        """Where the installed file installed (an absolute path) is in the tree."""
        return os.path.join(self.root, installed.lstrip("/"))

    def files(self):
        """Every installed file (and symlink), as the absolute path it has on the site."""
        found = set()
        for d, _, names in os.walk(self.root):
            for n in names:
                found.add("/" + os.path.relpath(os.path.join(d, n), self.root))
        return found

    def close(self):
        shutil.rmtree(self.root, ignore_errors=True)


def site_path(p):
    """p as this host names it in the layout: udev's pkg-config file on Debian 12 says
    /lib/udev, which on a merged /usr (Debian 12's) is /usr/lib/udev."""
    if p.startswith("/lib/udev/") and os.path.realpath("/lib") == "/usr/lib":
        return "/usr" + p
    return p


def main(tests, *trees):
    """Runs the tests as a TAP program and exits, removing the trees (and whatever else has
    a close()) however they ended."""
    try:
        status = Tap(tests).run()
    finally:
        for t in trees:
            if t:
                t.close()
    sys.exit(status)
