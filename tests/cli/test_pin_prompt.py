#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Types PINs into tokenctl's prompt on a pseudo-terminal and checks none is echoed."""

import os
import pty
import select
import signal
import sys
import time

from tap import Tap

HELPER = os.environ["PIN_PROMPT_HELPER"]


class Session:
    """pin-prompt-helper on a new pseudo-terminal; stopped by its PID when the test leaves
    the `with` block before it ended."""

    def __init__(self, *args):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            try:
                os.execv(HELPER, [HELPER, *args])
            finally:
                os._exit(127)  # the child never goes on running the tests
        self.out = b""
        self.pos = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()
        return False

    def expect(self, text, timeout=10):
        """Waits for text after what earlier calls matched; the prompt flushes typed-ahead
        input, so a test must answer each prompt only once it is shown."""
        deadline = time.monotonic() + timeout
        while text.encode() not in self.out[self.pos:]:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no %r in %r" % (text, self.out))
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                try:
                    chunk = os.read(self.fd, 1024)
                except OSError:
                    chunk = b""
                if not chunk:
                    raise AssertionError("EOF waiting for %r in %r" % (text, self.out))
                self.out += chunk
        self.pos = self.out.index(text.encode(), self.pos) + len(text)

    def send(self, text):
        os.write(self.fd, text.encode())

    def finish(self):
        while True:
            r, _, _ = select.select([self.fd], [], [], 10)
            if not r:
                break
            try:
                chunk = os.read(self.fd, 1024)
            except OSError:
                break
            if not chunk:
                break
            self.out += chunk
        _, status = os.waitpid(self.pid, 0)
        self.pid = 0
        os.close(self.fd)
        return os.waitstatus_to_exitcode(status)

    def kill(self):
        if self.pid:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.pid = 0
            os.close(self.fd)


def test_typed_pin_is_not_echoed():
    with Session() as s:
        s.expect("PIN: ")
        s.send("735195\n")
        status = s.finish()
    assert status == 0, (status, s.out)
    assert b"got " + b"735195".hex().encode() in s.out, s.out
    assert b"735195" not in s.out, s.out


def test_new_pin_asked_twice_and_again_on_mismatch():
    with Session("new") as s:
        s.expect("New PIN: ")
        s.send("482915\n")
        s.expect("Repeat new PIN: ")
        s.send("482916\n")
        s.expect("differ")
        s.expect("New PIN: ")
        s.send("615243\n")
        s.expect("Repeat new PIN: ")
        s.send("615243\n")
        status = s.finish()
    assert status == 0, (status, s.out)
    assert b"got " + b"615243".hex().encode() in s.out, s.out
    for pin in (b"482915", b"482916", b"615243"):
        assert pin not in s.out, (pin, s.out)


def test_a_new_pin_below_the_minimum_is_refused_before_its_repeat():
    with Session("new", "6") as s:
        s.expect("New PIN: ")
        s.send("4821\n")
        s.expect("at least 6 characters")
        s.expect("New PIN: ")
        s.send("615243\n")
        s.expect("Repeat new PIN: ")
        s.send("615243\n")
        status = s.finish()
    assert status == 0, (status, s.out)
    assert b"Repeat" not in s.out[:s.out.index(b"at least 6")], s.out
    assert b"got " + b"615243".hex().encode() in s.out, s.out


def test_three_mismatches_fail():
    with Session("new") as s:
        for i in range(3):
            s.expect("New PIN: ", timeout=10)
            s.send("11111%d\n" % i)
            s.expect("Repeat new PIN: ")
            s.send("22222%d\n" % i)
            s.expect("differ")
        status = s.finish()
    assert status == 1, (status, s.out)
    assert b"got" not in s.out, s.out


sys.exit(Tap([test_typed_pin_is_not_echoed, test_new_pin_asked_twice_and_again_on_mismatch,
              test_a_new_pin_below_the_minimum_is_refused_before_its_repeat,
              test_three_mismatches_fail]).run())
