#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The harness itself: tokend-test-env gives the command its environment and exit status, the
readers and cards are where it says, the control socket works, and nothing it started outlives
it, whether the command ends, fails or the wrapper is sent SIGTERM."""

import os
import signal
import subprocess
import sys

import simenv
from tap import SKIP, Tap, skip

WRAPPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tokend-test-env")

try:
    simenv.check_available(cards=2)
except simenv.Unavailable as e:
    skip(str(e))


def children_of(pid):
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(p))
        except OSError:
            continue
    return out


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wrapper(*args, **kw):
    return subprocess.run([sys.executable, WRAPPER, *args], capture_output=True, text=True,
                          timeout=60, **kw)


def command_gets_the_environment_and_its_exit_status_passes_through():
    # The secrets are there, but not printed: only their lengths.
    script = ('for v in PCSCLITE_CSOCK_NAME OPENSC_CONF TOKEND_SIM_CONTROL_0 TOKEND_SIM_CONTROL_1 '
              'TOKEND_SIM_READER_0 TOKEND_SIM_READER_1; do eval "echo $v=\\$$v"; done; '
              'for v in TOKEND_SIM_PIN TOKEND_SIM_PUK TOKEND_SIM_SO_PIN; do '
              'eval "echo $v=\\${#$v}"; done; '
              'test -S "$PCSCLITE_CSOCK_NAME" && test -S "$TOKEND_SIM_CONTROL_1" && '
              'grep -q "user_pin_unblock_style = set_pin_in_unlogged_session;" "$OPENSC_CONF" '
              '&& exit 42')
    p = wrapper("--cards", "2", "--", "sh", "-c", script)
    assert p.returncode == 42, (p.returncode, p.stdout, p.stderr)
    env = dict(line.split("=", 1) for line in p.stdout.splitlines())
    assert env["TOKEND_SIM_READER_0"] == "Virtual PCD 00 00", env
    assert env["TOKEND_SIM_READER_1"] == "Virtual PCD 00 01", env
    for secret in ("TOKEND_SIM_PIN", "TOKEND_SIM_PUK", "TOKEND_SIM_SO_PIN"):
        assert 4 <= int(env[secret]) <= 8, f"{secret} has {env[secret]} characters"
    assert not os.path.exists(os.path.dirname(env["OPENSC_CONF"])), "temp dir left behind"


def readers_and_cards_are_where_the_environment_says():
    with simenv.SimEnv(cards=3) as env:
        readers = env.readers()
        assert list(readers) == ["Virtual PCD 00 00", "Virtual PCD 00 01",
                                 "Virtual PCD 1 00 00", "Virtual PCD 1 00 01"], readers
        assert list(readers.values()) == [True, True, True, False], readers
        # Each card in its own reader: pulling card 2 empties "Virtual PCD 1 00 00" only.
        env.cards[2].remove()
        env.wait_card(2, present=False)
        assert list(env.readers().values()) == [True, True, False, False], env.readers()
        assert "inserted=0" in env.cards[2].status()
        env.cards[2].insert()
        env.wait_card(2, present=True)


def cards_come_back_after_pcscd_restarts():
    with simenv.SimEnv(cards=2) as env:
        env.restart_pcscd()
        env.wait_card(0)
        env.wait_card(1)


def unknown_control_command_is_an_error():
    with simenv.SimEnv(cards=1) as env:
        try:
            env.cards[0].control("no-such-command")
        except simenv.SimError as e:
            assert "error" in str(e), e
        else:
            raise AssertionError("an unknown command was accepted")


def nothing_outlives_a_failing_command():
    p = subprocess.Popen([sys.executable, WRAPPER, "--cards", "2", "--", "sh", "-c",
                          'echo "$OPENSC_CONF"; sleep 1; exit 3'],
                         stdout=subprocess.PIPE, text=True)
    conf = p.stdout.readline().strip()
    started = children_of(p.pid)
    p.communicate(timeout=30)
    assert p.returncode == 3, p.returncode
    assert len(started) == 4, f"pcscd, two simulators and the command: {started}"
    assert not [pid for pid in started if alive(pid)], "processes left running"
    assert not os.path.exists(os.path.dirname(conf)), "temp dir left behind"


def sigterm_stops_the_command_and_everything_started():
    p = subprocess.Popen([sys.executable, WRAPPER, "--cards", "1", "--", "sh", "-c",
                          'echo "$OPENSC_CONF"; exec sleep 60'], stdout=subprocess.PIPE,
                         text=True)
    conf = p.stdout.readline().strip()
    started = children_of(p.pid)
    p.send_signal(signal.SIGTERM)
    p.wait(30)
    assert p.returncode == 128 + signal.SIGTERM, p.returncode
    assert len(started) == 3, started
    assert not [pid for pid in started if alive(pid)], "processes left running"
    assert not os.path.exists(os.path.dirname(conf)), "temp dir left behind"


def missing_simulator_exits_77():
    p = wrapper("--cards", "1", "--", "true",
                env=dict(os.environ, TOKEND_SIM="/nonexistent/tokend-sim"))
    assert p.returncode == SKIP, (p.returncode, p.stderr)
    assert "not built" in p.stderr, p.stderr


def personalised_card_takes_the_pin_from_the_environment():
    script = ('pkcs11-tool --module "$1" --login --pin env:TOKEND_SIM_PIN --list-objects '
              '>/dev/null && pkcs11-tool --module "$1" -L')
    p = wrapper("--personalise", "--label", "harness", "--", "sh", "-c", script, "sh",
                simenv.OPENSC_PKCS11)
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert "token label        : harness" in p.stdout, p.stdout


sys.exit(Tap([command_gets_the_environment_and_its_exit_status_passes_through,
              readers_and_cards_are_where_the_environment_says,
              cards_come_back_after_pcscd_restarts,
              unknown_control_command_is_an_error,
              nothing_outlives_a_failing_command,
              sigterm_stops_the_command_and_everything_started,
              missing_simulator_exits_77,
              personalised_card_takes_the_pin_from_the_environment]).run())
