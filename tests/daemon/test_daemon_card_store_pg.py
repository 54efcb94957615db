#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Two stations of an office share one retry ledger in PostgreSQL ([Store] Backend=postgresql):
two tokend on two private buses, both on the same simulated MyEID card behind one pcscd, and a
private PostgreSQL server on a unix socket. The PUK's tries that one station spends count at the
other; the final-try rule holds across both; of two unblocks at once only one reaches the card;
while the database is down an unblock is refused before the card is asked, and works again once
it is back. The schema comes from tokend --migrate, without which tokend does not start, and
tokend's role cannot change or remove a recorded attempt or audit line.

Each station's audit file is copied into the database line by line: the history a station kept
in files before it joined (and its file ledger's counts) goes in from the first line; acts done
while the database is away are recorded in the file and copied later with their own times, or
refused where the station is set to refuse them; a second station under one name adds nothing."""

import json
import os
import subprocess
import sys
import tempfile
import threading
import time

from card_env import OPENSC, TOKEN, CardEnv, env_on_sim, gvariant_options, need_cards
from pg_env import PgEnv, need_postgresql
from tap import Tap
from tokend_env import CallError

need_cards()
need_postgresql()

WRONG_PUK = b"99999999"
NEW_PIN = b"583920"
PASSWORD = "pg-secret-4471"
BUILD = os.environ["TOKEND_BUILD_DIR"]
TOKEND = f"{BUILD}/daemon/tokend"
TOKENCTL = os.environ["TOKENCTL"]

pg = PgEnv(password_roles=("tokend",))
try:
    # The roles of docs/office.md: the schema's owner, the group the schema grants to, a
    # station's login in that group, and the group of the staff who read the trail.
    pg.psql("CREATE ROLE tokend_owner LOGIN; CREATE ROLE tokend_station NOLOGIN; "
            "CREATE ROLE tokend_auditor NOLOGIN; "
            "CREATE ROLE auditor1 LOGIN IN ROLE tokend_auditor; "
            f"CREATE ROLE tokend LOGIN PASSWORD '{PASSWORD}' IN ROLE tokend_station",
            dbname="postgres")
    pg.psql("CREATE DATABASE tokend OWNER tokend_owner", dbname="postgres")
except BaseException:
    pg.close()
    raise
OWNER = pg.conninfo("tokend_owner")


# Each tokend's OpenSC scanner loads the module, which binds the card, every ten scan intervals
# besides PC/SC's events: while the card is slowed down for the tests that need an unblock to
# last, such a bind could hold the card (a PC/SC transaction) for longer than a client waits.
# Two stations on one card is the tests' doing (a real card is in one reader), so the scanners
# here list on PC/SC's events alone.
QUIET_SCANNER = ("--scan-interval", "60000")


def store_config(station, extra=""):
    return ("[Store]\nBackend=postgresql\n"
            f"Connection={pg.conninfo('tokend', password=PASSWORD)}\nStation={station}\n{extra}")


def run_tokend(config, *args):
    """tokend on its own with config, for the runs that end before it offers the bus."""
    with tempfile.TemporaryDirectory() as d:
        with open(f"{d}/tokend.conf", "w") as f:
            f.write(config)
        p = subprocess.run([TOKEND, "--config", f"{d}/tokend.conf", "--state-dir", d] +
                           list(args), capture_output=True, text=True, timeout=30,
                           stdin=subprocess.DEVNULL)
        return p.returncode, p.stdout + p.stderr


def db_lines(station):
    """The station's lines in the database's copy of its audit trail, as bytes, in order."""
    out = pg.psql(f"SELECT encode(line, 'hex') FROM audit_lines WHERE station = '{station}' "
                  "ORDER BY line_no")[1]
    return [bytes.fromhex(h) for h in out.splitlines()]


def file_lines(daemon):
    with open(daemon.audit_file, "rb") as f:
        return f.read().splitlines()


def copied(station, daemon, timeout=15):
    """Waits until the database's copy of the station's trail is its audit file, line by line."""
    daemon.wait_for(lambda: db_lines(station) == file_lines(daemon), timeout,
                    f"station {station}'s audit file copied into the database")
    return file_lines(daemon)


def pin_change_error(daemon, path, pin, new_pin):
    return daemon.call_error(path, "ChangePin", "'user'",
                             gvariant_options(pin=pin, new_pin=new_pin))


def wrong_pin_then_right(daemon, path, pin):
    """A wrong PIN, then the PIN changed and changed back: the card's counter full again."""
    err = pin_change_error(daemon, path, WRONG_PUK, b"406172")
    assert err and err[0] == "org.tokend.Tokend1.Error.PinIncorrect", err
    for old, new in ((pin, b"406172"), (b"406172", pin)):
        err = pin_change_error(daemon, path, old, new)
        assert err is None, err


def attempts():
    return pg.psql("SELECT station, outcome FROM ledger_attempts ORDER BY id")[1].splitlines()


def tokend_refuses_to_start_before_migrate():
    rc, out = run_tokend(store_config("counter-1"))
    assert rc != 0, out
    assert "schema version 0" in out and "tokend --migrate" in out, out
    assert PASSWORD not in out, out


def migrate_applies_the_schema_once():
    rc, out = run_tokend(store_config("counter-1"), "--migrate", "--connection", OWNER)
    assert rc == 0, out
    assert "001-ledger.sql" in out and "002-audit.sql" in out, out
    assert pg.psql("SELECT version FROM schema_version ORDER BY version")[1] == "1\n2"
    rc, out = run_tokend(store_config("counter-1"), "--migrate", "--connection", OWNER)
    assert rc == 0 and "nothing to do" in out, out
    assert pg.psql("SELECT count(*) FROM schema_version")[1] == "2"
    # A schema newer than this tokend's: the station's tokend is the one to update.
    pg.psql("INSERT INTO schema_version (version) VALUES (3)")
    rc, out = run_tokend(store_config("counter-1"))
    assert rc != 0 and "newer than this tokend's 2" in out, out
    pg.psql("DELETE FROM schema_version WHERE version = 3")


stations = {}


def tokens(d):
    try:
        return d.tokens()
    except CallError:
        return []  # tokend not on the bus yet


def second_station(first):
    """tokend on a bus of its own, on the first station's pcscd and so on the same card."""
    # The card is in its reader already: its token may be on the bus before Env could see
    # none, so the wait is the test's own.
    d = env_on_sim(first.sim, labels=(), modules=[OPENSC],
                   extra_config=store_config("counter-2", "WhenUnreachable=refuse\n"), wait=False,
                   tokend_args=QUIET_SCANNER)
    d.wait_for(lambda: len(tokens(d)) == 1, 20, "the card's token at the second station")
    path = d.tokens()[0]
    d.wait_for(lambda: d.get(path, TOKEN, "UserPinRetriesSource") == "card", 20,
               "the card's counters at the second station")
    return d, path



class Station:
    def __init__(self, name, daemon, path):
        self.name, self.daemon, self.path = name, daemon, path

    def prop(self, name):
        return self.daemon.get(self.path, TOKEN, name)

    def unblock_error(self, request, puk=WRONG_PUK, force=False):
        return self.daemon.call_error(self.path, "UnblockPin", gvariant_options(
            so_pin=puk, new_pin=NEW_PIN, request=request, force=force))

    def tokenctl_puk(self):
        """The PUK as tokenctl status --json shows it at this station: (retries, state)."""
        p = subprocess.run([TOKENCTL, "--json", "status"], capture_output=True, text=True,
                           env=self.daemon.env, timeout=60, stdin=subprocess.DEVNULL)
        assert p.returncode == 0, (p.stdout, p.stderr)
        puk = json.loads(p.stdout)["token"]["puk"]
        return puk["retries"], puk["state"]

    def wrong_puk(self, request):
        err = self.unblock_error(request)
        assert err and err[0] == "org.tokend.Tokend1.Error.PinIncorrect", (self.name, err)

    def shows(self, retries, state):
        self.daemon.wait_for(lambda: (self.prop("PukRetries"), self.prop("PukState")) ==
                             (retries, state), 10,
                             f"PUK {retries} tries, {state} at {self.name}")
        assert self.prop("PukRetriesSource") == "ledger", self.prop("PukRetriesSource")


def a_stations_history_in_files_goes_into_the_database_from_its_first_line():
    """A station that kept its trail in a file before the office had a database: once it is
    set to PostgreSQL, every line of its file is copied, the acts from before included."""
    env = CardEnv(label="office card", tokend_args=QUIET_SCANNER)
    stations["env"] = env
    d = env.daemon
    wrong_pin_then_right(d, env.path, env.sim.pin.encode())
    # A PUK try spent at this station alone: its file ledger counts it.
    err = d.call_error(env.path, "UnblockPin", gvariant_options(
        so_pin=WRONG_PUK, new_pin=NEW_PIN, request="ULA-0"))
    assert err and err[0] == "org.tokend.Tokend1.Error.PinIncorrect", err
    _, _, puk, puk_max = env.counters(1)
    assert puk == puk_max - 1, env.counters(1)
    before = file_lines(d)
    assert len(before) >= 5, before
    with open(f"{d.dir}/tokend.conf", "a") as f:
        f.write(store_config("counter-1"))
    d.kill_tokend()
    d.start_tokend()
    d.wait_for(lambda: len(tokens(d)) == 1, 20, "the card's token after the restart")
    env.path = env.wait_token()
    lines = copied("counter-1", d)
    assert lines[:len(before)] == before and len(lines) > len(before), lines
    stations["a"] = Station("counter-1", d, env.path)
    # And its ledger: the office's count has the try, and the file is kept, renamed.
    serial = stations["a"].prop("Serial")
    assert pg.psql(f"SELECT failed FROM ledger_counts WHERE serial = '{serial}'")[1] == "1"
    assert os.path.exists(f"{d.dir}/retry-ledger.json.imported")
    assert not os.path.exists(f"{d.dir}/retry-ledger.json")
    assert "is added to the database tokend" in d.log(), d.log()
    stations["a"].shows(puk_max - 1, "ok")


def two_stations_see_one_card():
    env = stations["env"]
    second, path = second_station(env)
    stations["b"] = Station("counter-2", second, path)
    assert stations["a"].prop("Serial") == stations["b"].prop("Serial")


def three_wrong_puks_at_two_stations_count_at_both():
    env, a, b = stations["env"], stations["a"], stations["b"]
    # One try was spent at counter-1 before it joined the office: counter-2 counts it too.
    _, _, puk, puk_max = env.counters(1)
    assert puk == puk_max - 1, env.counters(1)
    b.shows(puk, "ok")
    a.wrong_puk("ULA-1")
    a.wrong_puk("ULA-2")
    b.shows(puk - 2, "ok")
    b.wrong_puk("ULA-3")
    assert env.counters(1)[2] == puk - 3, env.counters(1)
    a.shows(puk - 3, "ok")
    b.shows(puk - 3, "ok")
    assert a.tokenctl_puk() == b.tokenctl_puk() == (puk - 3, "ok"), b.tokenctl_puk()
    assert attempts() == ["counter-1|failed"] * 2 + ["counter-2|failed"], attempts()


def each_stations_lines_in_the_database_are_its_audit_file():
    a, b = stations["a"], stations["b"]
    for s in (a, b):
        lines = copied(s.name, s.daemon)
        assert any(b'"unblock-pin"' in line for line in lines), lines
    out = pg.psql("SELECT DISTINCT station, written_by FROM audit_lines ORDER BY 1")[1]
    assert out.splitlines() == ["counter-1|tokend", "counter-2|tokend"], out


def acts_while_the_database_is_down_are_recorded_and_copied_later_with_their_times():
    """WhenUnreachable=record-locally (the default, at counter-1): the acts go on, their lines
    wait in the audit file and reach the database in their order once it is back."""
    env, a = stations["env"], stations["a"]
    pin = env.sim.pin.encode()
    pg.stop()
    try:
        down = time.time()
        wrong_pin_then_right(a.daemon, a.path, pin)
        assert env.counters(1)[0] == env.counters(1)[1], env.counters(1)
        lines = file_lines(a.daemon)
    finally:
        pg.start()
    back = time.time()
    assert copied("counter-1", a.daemon)[:len(lines)] == lines
    rows = pg.psql("SELECT extract(epoch FROM at), extract(epoch FROM received_at), "
                   "convert_from(line, 'UTF8') FROM audit_lines WHERE station = 'counter-1' "
                   f"AND at > to_timestamp({down}) ORDER BY line_no")[1].splitlines()
    changes = [r.split("|", 2) for r in rows if '"change-pin"' in r]
    assert len(changes) == 6, rows
    for at, received, _ in changes:
        assert float(at) < back <= float(received) + 1, (at, received, back)
    assert '"result":"failed"' in changes[1][2].replace(" ", ""), changes


def a_station_set_to_refuse_does_nothing_while_the_database_is_down():
    """WhenUnreachable=refuse (counter-2): no act while the office's trail cannot take it; the
    refusal itself waits in the file and reaches the database."""
    env, b = stations["env"], stations["b"]
    before = env.counters(1)
    pg.stop()
    try:
        err = pin_change_error(b.daemon, b.path, WRONG_PUK, b"406172")
        assert err and err[0] == "org.tokend.Tokend1.Error.Failed", err
        assert "WhenUnreachable=refuse" in err[1] and "nothing is done" in err[1], err
        assert PASSWORD not in err[1], err
        assert env.counters(1) == before, (before, env.counters(1))
    finally:
        pg.start()
    lines = copied("counter-2", b.daemon)
    assert b'"refused"' in lines[-1] and b'"change-pin"' in lines[-1], lines[-1]


def a_second_station_under_the_same_name_adds_nothing_and_says_why():
    env, a = stations["env"], stations["a"]
    before = db_lines("counter-1")
    d = env_on_sim(env.sim, labels=(), modules=[OPENSC], extra_config=store_config("counter-1"),
                   wait=False, tokend_args=QUIET_SCANNER)
    try:
        d.wait_for(lambda: "two stations have the name counter-1" in d.log(), 20,
                   "the second counter-1 finding the database's copy is not its file")
        assert db_lines("counter-1") == before == file_lines(a.daemon)
    finally:
        d.close()


def an_outcome_heard_while_the_database_is_down_is_written_when_it_is_back():
    """The database stops while an unblock is at the card: the card's answer is counted in
    memory, and written once the database is back, so that the other station sees it."""
    env, a, b = stations["env"], stations["a"], stations["b"]
    _, _, puk, _ = env.counters(1)
    count = len(attempts())
    env.card.delay(300)
    result = {}
    t = threading.Thread(target=lambda: result.update(err=a.unblock_error("ULA-outage")))
    t.start()
    try:
        # The unblock holds the token's row and is at the card when the server goes.
        a.daemon.wait_for(lambda: a.prop("Busy"), 10, "the unblock at the card")
        time.sleep(0.5)
        pg.stop()
        t.join(60)
    finally:
        env.card.delay(0)
        pg.start()
    assert result["err"][0] == "org.tokend.Tokend1.Error.PinIncorrect", result
    assert env.counters(1)[2] == puk - 1, env.counters(1)
    b.shows(puk - 1, "ok")
    a.shows(puk - 1, "ok")
    assert len(attempts()) == count + 1 and attempts()[-1] == "counter-1|failed", attempts()
    assert "has the outcomes of token" in a.daemon.log()


def unblock_refused_while_the_database_is_down():
    env, a = stations["env"], stations["a"]
    objects = env.objects()
    before = env.counters(1)
    pg.stop()
    try:
        err = a.unblock_error("ULA-down", force=True)
        assert err and err[0] == "org.tokend.Tokend1.Error.Failed", err
        assert "Cannot connect to the database tokend" in err[1], err
        assert "uncounted" in err[1], err
        assert PASSWORD not in err[1], err
        assert env.counters(1) == before, (before, env.counters(1))
        # What does not depend on the ledger goes on.
        assert env.objects() == objects
    finally:
        pg.start()
    records = [(r.get("request"), r["result"], r.get("error")) for r in a.daemon.audit_records()
               if r["operation"] == "unblock-pin"]
    assert ("ULA-down", "refused", "Failed") in records, records


def unblocks_work_again_once_the_database_is_back():
    env, a, b = stations["env"], stations["a"], stations["b"]
    _, _, puk, _ = env.counters(1)
    a.wrong_puk("ULA-4")
    assert env.counters(1)[2] == puk - 1
    b.shows(puk - 1, "ok" if puk - 1 > 1 else "final-try")


def final_try_at_either_station_after_nine_wrong_puks():
    env, a, b = stations["env"], stations["a"], stations["b"]
    n = 5
    while env.counters(1)[2] > 1:
        (a if n % 2 else b).wrong_puk(f"ULA-{n}")
        n += 1
    a.shows(1, "final-try")
    b.shows(1, "final-try")
    assert b.tokenctl_puk() == (1, "final-try"), b.tokenctl_puk()
    before = env.counters(1)
    for s in (a, b):
        err = s.unblock_error(f"ULA-{s.name}-final")
        assert err and err[0] == "org.tokend.Tokend1.Error.SoPinFinalTry", (s.name, err)
    assert env.counters(1) == before, (before, env.counters(1))
    # Every try but the one counter-1 made alone, whose count came with its file ledger.
    assert len(attempts()) == before[3] - 2, attempts()


def one_of_two_forced_unblocks_at_once_reaches_the_card():
    env, a, b = stations["env"], stations["a"], stations["b"]
    count = len(attempts())
    # Slow APDUs: the first unblock is still at the card when the second is checked.
    env.card.delay(300)
    errors = {}
    go = threading.Barrier(2)

    def unblock(s):
        go.wait()
        errors[s.name] = s.unblock_error(f"ULA-{s.name}-forced", force=True)

    threads = [threading.Thread(target=unblock, args=(s,)) for s in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    env.card.delay(0)
    at_card = [n for n, e in errors.items()
               if e and e[0] in ("org.tokend.Tokend1.Error.PinIncorrect",
                                 "org.tokend.Tokend1.Error.PinLocked")]
    held = [n for n, e in errors.items()
            if e and e[0] == "org.tokend.Tokend1.Error.Failed" and "another station" in e[1]]
    assert len(at_card) == 1 and len(held) == 1, errors
    assert env.counters(1)[2] == 0, env.counters(1)
    assert len(attempts()) == count + 1, attempts()
    print(f"# {at_card[0]} reached the card; {held[0]} was refused: {errors[held[0]][1]}")


def tokend_role_cannot_change_or_remove_attempts():
    for table, change in (("ledger_attempts", "outcome = 'success'"),
                          ("audit_lines", "line = 'x'")):
        for sql in (f"UPDATE {table} SET {change}", f"DELETE FROM {table}", f"TRUNCATE {table}"):
            rc, out = pg.psql(sql, user="tokend", password=PASSWORD, check=False)
            assert rc != 0 and "permission denied" in out, (sql, out)
        # Even the owner is stopped by the trigger.
        rc, out = pg.psql(f"DELETE FROM {table}", user="tokend_owner", check=False)
        assert rc != 0 and f"{table} is append-only" in out, out
    rc, out = pg.psql("UPDATE ledger_counts SET failed = 0", user="tokend", password=PASSWORD,
                      check=False)
    assert rc == 0, out


def tokenctl(*args):
    p = subprocess.run([TOKENCTL] + list(args), capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


def the_offices_trail_verifies_and_lists_both_stations_as_copied_by_tokend():
    """tokenctl as a member of staff in tokend_auditor, on the lines tokend itself copied."""
    a, b = stations["a"], stations["b"]
    for s in (a, b):
        copied(s.name, s.daemon)
    rc, out, err = tokenctl("--json", "audit", "verify", "--database", pg.conninfo("auditor1"))
    assert rc == 0, (out, err)
    got = json.loads(out)
    assert got["intact"] is True, got
    by_name = {s["station"]: s for s in got["stations"]}
    assert sorted(by_name) == ["counter-1", "counter-2"], got
    for s in (a, b):
        rc, out, err = tokenctl("--json", "audit", "verify", s.daemon.audit_file)
        assert rc == 0, (out, err)
        assert by_name[s.name]["head"] == json.loads(out)["head"], (by_name[s.name], out)
    rc, out, err = tokenctl("--json", "audit", "list", "--database", pg.conninfo("auditor1"),
                            "--operation", "unblock-pin")
    assert rc == 0, (out, err)
    acts = json.loads(out)
    stations_seen = {act["station"] for act in acts}
    assert stations_seen == {"counter-1", "counter-2"}, acts
    assert {"ULA-0", "ULA-1", "ULA-3"} <= {act["request"] for act in acts}, acts


def an_edit_of_the_database_copy_is_found_and_named():
    """The superuser, who may switch the triggers off, changes a line tokend copied."""
    pg.psql("SET session_replication_role = replica; UPDATE audit_lines SET line = "
            "replace(convert_from(line, 'UTF8'), 'ULA-3', 'ULA-9')::bytea "
            "WHERE station = 'counter-2' AND position('ULA-3' in convert_from(line, 'UTF8')) > 0")
    rc, out, err = tokenctl("audit", "verify", "--database", pg.conninfo("auditor1"))
    assert rc == 8, (rc, out, err)
    assert "counter-2" in out + err and "line" in out + err, (out, err)


def no_password_in_the_logs():
    for s in (stations["a"], stations["b"]):
        log = s.daemon.log()
        assert "database tokend on" in log, log
        assert PASSWORD not in log, f"the password reached the log of {s.name}"


rc = 1
try:
    rc = Tap([tokend_refuses_to_start_before_migrate, migrate_applies_the_schema_once,
              a_stations_history_in_files_goes_into_the_database_from_its_first_line,
              two_stations_see_one_card, three_wrong_puks_at_two_stations_count_at_both,
              each_stations_lines_in_the_database_are_its_audit_file,
              acts_while_the_database_is_down_are_recorded_and_copied_later_with_their_times,
              a_station_set_to_refuse_does_nothing_while_the_database_is_down,
              a_second_station_under_the_same_name_adds_nothing_and_says_why,
              an_outcome_heard_while_the_database_is_down_is_written_when_it_is_back,
              unblock_refused_while_the_database_is_down,
              unblocks_work_again_once_the_database_is_back,
              final_try_at_either_station_after_nine_wrong_puks,
              one_of_two_forced_unblocks_at_once_reaches_the_card,
              tokend_role_cannot_change_or_remove_attempts,
              the_offices_trail_verifies_and_lists_both_stations_as_copied_by_tokend,
              an_edit_of_the_database_copy_is_found_and_named, no_password_in_the_logs]).run()
finally:
    failed = False
    if "b" in stations:
        stations["b"].daemon.close()
        failed = stations["b"].daemon.failed_shutdown
    if "env" in stations:
        stations["env"].close()
        failed = failed or stations["env"].failed_shutdown
    pg.close()
sys.exit(1 if failed else rc)
