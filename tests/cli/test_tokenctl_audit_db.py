#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""tokenctl audit verify --database and audit list --database on the office's trail in a private
PostgreSQL server: the real trails of two stations (two tokend on SoftHSM2, a wrong PIN, a PIN
change and an unblock), their lines put into audit_lines by each station's role, read by an
auditor's role with a password. Both chains intact, both stations' acts listed by time with
their users and stations and filtered; a line edited, a line deleted and two lines reordered
(by the superuser, triggers off) each found at its station and line; a station's role cannot
change, remove or misattribute a line, and a line it adds that does not continue the chain is
found, as is one holding a newline; a station written by two roles is warned of; an
unreachable database named by its dbname and host, never with the password."""

import datetime
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time

from pg_env import PgEnv, need_postgresql
from tap import Tap, skip
from tokend_env import SO_PIN, SOFTHSM_MODULE, USER_PIN, Env, need

TOKENCTL = os.environ["TOKENCTL"]
BUILD = os.environ["TOKEND_BUILD_DIR"]
SOURCE = os.environ["TOKEND_SOURCE_DIR"]
TOKEND = f"{BUILD}/daemon/tokend"
PASSWORD = "audit-pw-8830"


def tokenctl(*args, env=None):
    p = subprocess.run([TOKENCTL, *args], capture_output=True, text=True, env=env, timeout=60,
                       stdin=subprocess.DEVNULL)
    # Whatever happens, the connection string's password is never shown.
    assert PASSWORD not in p.stdout + p.stderr, (args, p.stdout, p.stderr)
    return p


if os.environ.get("TOKENCTL_WITH_POSTGRESQL") != "1":
    # A tokenctl built without libpq says so; there is nothing more to test.
    p = tokenctl("audit", "verify", "--database", "")
    assert p.returncode == 1 and "built without PostgreSQL" in p.stderr, (p.stdout, p.stderr)
    skip("tokenctl is built without PostgreSQL (libpq): --database refused as it should be")
need("dbus-daemon", "softhsm2-util", "psql", SOFTHSM_MODULE)
need_postgresql()

try:
    import jsonschema
except ImportError:
    jsonschema = None


def schema(name):
    with open(f"{SOURCE}/docs/tokenctl-json/{name}.schema.json") as f:
        return json.load(f)


def validate(name, doc):
    if jsonschema:
        jsonschema.Draft202012Validator(schema(name)).validate(doc)


pg = PgEnv(password_roles=("auditor1",))
envs = []
try:
    # The roles of docs/office.md: the schema's owner, the group the schema grants to and one
    # login in it per station, the group of the staff who verify and one auditor in it; and a
    # role in neither.
    pg.psql("CREATE ROLE tokend_owner LOGIN; CREATE ROLE tokend_station NOLOGIN; "
            "CREATE ROLE tokend_auditor NOLOGIN; "
            "CREATE ROLE counter1 LOGIN IN ROLE tokend_station; "
            "CREATE ROLE counter2 LOGIN IN ROLE tokend_station; "
            f"CREATE ROLE auditor1 LOGIN PASSWORD '{PASSWORD}' IN ROLE tokend_auditor; "
            "CREATE ROLE visitor LOGIN", dbname="postgres")
    pg.psql("CREATE DATABASE tokend OWNER tokend_owner", dbname="postgres")
    for label in ("st-1", "st-2"):
        envs.append(Env(labels=(label,)))
except BaseException:
    for e in envs:
        e.close()
    pg.close()
    raise
AUDITOR = pg.conninfo("auditor1", password=PASSWORD)
NAME = f"database tokend on {pg.dir}"
STATIONS = {"counter-1": ("counter1", envs[0]), "counter-2": ("counter2", envs[1])}


def migrate():
    """The schema, as the office's owner makes it: tokend --migrate."""
    owner = pg.conninfo("tokend_owner")
    with tempfile.TemporaryDirectory() as d:
        with open(f"{d}/tokend.conf", "w") as f:
            f.write(f"[Store]\nBackend=postgresql\nConnection={owner}\n")
        p = subprocess.run([TOKEND, "--config", f"{d}/tokend.conf", "--state-dir", d,
                            "--migrate", "--connection", owner], capture_output=True, text=True,
                           timeout=60, stdin=subprocess.DEVNULL)
    assert p.returncode == 0 and "002-audit.sql" in p.stdout + p.stderr, p.stdout + p.stderr


def audited_calls(env, unblock):
    """A wrong PIN, a PIN change (and an unblock with a reference): intents and outcomes."""
    def run(*args, stdin, expect):
        p = subprocess.run([TOKENCTL, "--no-ask-password", *args], input=stdin,
                           capture_output=True, text=True, env=env.env, timeout=60)
        assert p.returncode == expect, (args, p.stdout, p.stderr)

    serial = env.get(env.tokens()[0], "org.tokend.Tokend1.Token", "Serial")
    run("change-pin", serial, "--pin-file", "-", "--new-pin-file", "-",
        stdin="999999\n583920\n", expect=5)
    run("change-pin", serial, "--pin-file", "-", "--new-pin-file", "-",
        stdin=f"{USER_PIN}\n583920\n", expect=0)
    if unblock:
        run("unblock", serial, "--request", "REQ-1", "--so-pin-file", "-", "--new-pin-file", "-",
            stdin=f"{SO_PIN}\n{USER_PIN}\n", expect=0)


def file_lines(station):
    with open(STATIONS[station][1].audit_file, "rb") as f:
        data = f.read()
    assert data.endswith(b"\n")
    return data[:-1].split(b"\n")


def forward(station, role=None, first=1, last=None, name=None):
    """Puts the station's lines first..last into audit_lines as its role would. This stands for
    tokend's forwarder (daemon/store-pg*.c, tested by the daemon's own tests): the same rows,
    each line's bytes numbered as in the file, its record's time. written_by is set to another
    role on purpose: the table's trigger sets the real one."""
    role = role or STATIONS[station][0]
    lines = file_lines(station)
    name = name or station
    rows = []
    for n, line in enumerate(lines[first - 1:last], first):
        try:
            at = f"to_timestamp({json.loads(line)['time_usec']} / 1e6)"
        except ValueError:
            at = "NULL"
        rows.append(f"('{name}', {n}, decode('{line.hex()}', 'hex'), {at}, 'postgres')")
    pg.psql("INSERT INTO audit_lines (station, line_no, line, at, written_by) VALUES " +
            ", ".join(rows), user=role)


def as_superuser(sql):
    """sql with the append-only triggers off: what someone with the server's keys could do."""
    pg.psql(f"SET session_replication_role = replica; {sql}")


def refill(station):
    """A fresh copy of the station's lines, after a test changed them."""
    as_superuser(f"DELETE FROM audit_lines WHERE station = '{station}'")
    forward(station)


def head(station):
    """seq and SHA-256 of the station's file, as audit verify FILE gives them."""
    p = tokenctl("--json", "audit", "verify", STATIONS[station][1].audit_file)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    return doc["head"]["seq"], doc["head"]["hash"]


def verify(*args):
    return tokenctl("audit", "verify", "--database", AUDITOR, *args)


def verify_json(*args, expect=0):
    p = tokenctl("--json", "audit", "verify", "--database", AUDITOR, *args)
    assert p.returncode == expect and p.stderr == "", (p.returncode, p.stdout, p.stderr)
    doc = json.loads(p.stdout)
    validate("audit-verify", doc)
    return doc


def list_json(*args):
    p = tokenctl("--json", "audit", "list", "--database", AUDITOR, *args)
    assert p.returncode == 0 and p.stderr == "", (p.returncode, p.stdout, p.stderr)
    doc = json.loads(p.stdout)
    validate("audit-list", doc)
    return doc


def setup_two_stations_trails_in_the_database():
    migrate()
    audited_calls(envs[0], unblock=True)
    time.sleep(2.2)  # the second station's acts a second apart at least, for --since
    audited_calls(envs[1], unblock=False)
    for station in STATIONS:
        forward(station)
    counts = pg.psql("SELECT station, count(*) FROM audit_lines GROUP BY 1 ORDER BY 1")[1]
    assert counts == "\n".join(f"{s}|{len(file_lines(s))}" for s in STATIONS), counts


def verify_says_both_stations_are_intact():
    p = verify()
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert p.stderr == "", p.stderr
    for station in STATIONS:
        seq, sha = head(station)
        assert (f"{station}: {seq} records, hash chain intact; seq {seq}, SHA-256 {sha}"
                in p.stdout), p.stdout
    assert f"2 stations in the {NAME}: every hash chain is intact." in p.stdout, p.stdout

    doc = verify_json()
    assert doc["database"] == NAME and doc["intact"], doc
    assert [s["station"] for s in doc["stations"]] == list(STATIONS), doc
    for s in doc["stations"]:
        seq, sha = head(s["station"])
        assert s["intact"] and s["bad-line"] is None and s["error"] is None, s
        assert s["head"] == {"seq": seq, "hash": sha} and s["lines"] == seq, s
        assert s["written-by"] == [STATIONS[s["station"]][0]], s
        assert s["interruption-count"] == 0 and s["interruptions"] == [], s

    one = verify_json("--station", "counter-2")
    assert [s["station"] for s in one["stations"]] == ["counter-2"], one
    p = verify("--station", "counter-9")
    assert p.returncode == 1 and "counter-9" in p.stderr, p.stderr


def list_shows_both_stations_acts_by_time():
    acts = list_json()
    assert [a["station"] for a in acts] == ["counter-1"] * 3 + ["counter-2"] * 2, acts
    assert [a["time-usec"] for a in acts] == sorted(a["time-usec"] for a in acts), acts
    assert [(a["operation"], a["result"], a["error"]) for a in acts] == [
        ("change-pin", "failed", "PinIncorrect"), ("change-pin", "ok", None),
        ("unblock-pin", "ok", None),
        ("change-pin", "failed", "PinIncorrect"), ("change-pin", "ok", None)], acts
    # Each station's outcomes paired with its own intents, though the seqs are the same.
    assert all(a["intent-seq"] and a["outcome-seq"] for a in acts), acts
    assert acts[0]["intent-seq"] == acts[3]["intent-seq"], acts
    assert all(a["user"] == "root" and a["uid"] == 0 for a in acts), acts

    p = tokenctl("audit", "list", "--database", AUDITOR, "--no-pager")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].split() == ["TIME", "STATION", "USER", "OPERATION", "TOKEN", "REQUEST",
                                "RESULT"], p.stdout
    assert [line.split()[2] for line in lines[1:]] == ["counter-1"] * 3 + ["counter-2"] * 2, \
        p.stdout
    assert all("root (0)" in line for line in lines[1:]), p.stdout
    assert "REQ-1" in lines[3] and "failed (PinIncorrect)" in lines[4], p.stdout


def list_filters_work_across_stations():
    assert {a["station"] for a in list_json("--station", "counter-2")} == {"counter-2"}
    unblocks = list_json("--operation", "unblock-pin")
    assert [(a["station"], a["request"]) for a in unblocks] == [("counter-1", "REQ-1")], unblocks
    assert list_json("--request", "REQ-1") == unblocks
    second = list_json("--station", "counter-2")[0]
    since = datetime.datetime.fromtimestamp(second["time-usec"] // 1000000)
    later = list_json("--since", since.strftime("%Y-%m-%d %H:%M:%S"))
    assert [a["station"] for a in later] == ["counter-2", "counter-2"], later
    p = tokenctl("audit", "list", "--database", AUDITOR, "--operation", "initialize")
    assert p.returncode == 0 and f"No acts in the {NAME} match." in p.stdout, p.stdout


def a_station_role_cannot_change_remove_or_misattribute_lines():
    for sql in ("UPDATE audit_lines SET line = 'x' WHERE line_no = 1",
                "DELETE FROM audit_lines WHERE line_no = 1", "TRUNCATE audit_lines"):
        rc, out = pg.psql(sql, user="counter1", check=False)
        assert rc != 0 and "permission denied" in out, (sql, out)
    # forward() claimed written_by postgres: the trigger wrote the role that inserted.
    rows = pg.psql("SELECT DISTINCT station, written_by FROM audit_lines ORDER BY 1")[1]
    assert rows == "counter-1|counter1\ncounter-2|counter2", rows


def a_station_written_by_two_roles_is_warned_of():
    # counter-3: counter-2's file again, its first two lines inserted by counter1, the rest by
    # counter2 (two stations configured with one name, say).
    forward("counter-2", role="counter1", last=2, name="counter-3")
    forward("counter-2", role="counter2", first=3, name="counter-3")
    try:
        p = verify()
        assert p.returncode == 0, (p.stdout, p.stderr)
        assert ("the lines of the station counter-3 were written by more than one role "
                "(counter1, counter2)" in p.stderr), p.stderr
        seq, sha = head("counter-2")
        assert f"counter-3: {seq} records, hash chain intact; seq {seq}, SHA-256 {sha}" in \
            p.stdout, p.stdout
        doc = verify_json("--station", "counter-3")
        assert doc["intact"] and doc["stations"][0]["written-by"] == ["counter1", "counter2"], doc
    finally:
        as_superuser("DELETE FROM audit_lines WHERE station = 'counter-3'")


def damaged(station, line, why):
    """verify and list each exit 8 naming the station and the line; the other stays intact."""
    p = verify()
    assert p.returncode == 8, (p.stdout, p.stderr)
    assert f"{station}: damaged at line {line}: {why}" in p.stdout, p.stdout
    assert (f"The trail of the station {station} in the {NAME} is damaged at line {line}"
            in p.stderr), p.stderr
    doc = verify_json(expect=8)
    assert not doc["intact"], doc
    by = {s["station"]: s for s in doc["stations"]}
    assert by[station]["bad-line"] == line and not by[station]["intact"], doc
    assert by[station]["head"] is None and why in by[station]["error"], doc
    assert all(s["intact"] for n, s in by.items() if n != station), doc
    p = tokenctl("audit", "list", "--database", AUDITOR)
    assert p.returncode == 8 and p.stdout == "", (p.stdout, p.stderr)
    assert f"station {station} in the {NAME} is damaged at line {line}" in p.stderr, p.stderr
    p = tokenctl("--json", "audit", "list", "--database", AUDITOR)
    doc = json.loads(p.stdout)
    validate("audit-list", doc)
    assert p.returncode == 8 and doc["error"]["exit-code"] == 8, doc
    # The other station is listed on its own.
    other = next(s for s in STATIONS if s != station)
    assert {a["station"] for a in list_json("--station", other)} == {other}


def an_edited_line_is_found_at_its_station_and_line():
    as_superuser("UPDATE audit_lines SET line = convert_to(replace(convert_from(line, 'UTF8'), "
                 "'\"uid\":0', '\"uid\":1'), 'UTF8') WHERE station = 'counter-2' AND line_no = 3")
    damaged("counter-2", 3, "Line 3 does not match the hash recorded in line 4: it was changed")
    refill("counter-2")


def a_deleted_line_is_found():
    as_superuser("DELETE FROM audit_lines WHERE station = 'counter-1' AND line_no = 3")
    damaged("counter-1", 3, "the line is missing from the database")
    refill("counter-1")


def reordered_lines_are_found():
    as_superuser("UPDATE audit_lines SET line_no = 1000000 WHERE station = 'counter-2' "
                 "AND line_no = 3; UPDATE audit_lines SET line_no = 3 WHERE station = "
                 "'counter-2' AND line_no = 4; UPDATE audit_lines SET line_no = 4 WHERE "
                 "station = 'counter-2' AND line_no = 1000000")
    damaged("counter-2", 3, "Line 3 has sequence number 4 where 3 was expected")
    refill("counter-2")
    assert verify().returncode == 0


def an_inserted_line_is_found():
    # The station's role may add lines: one that copies an earlier one does not continue the
    # chain.
    n = len(file_lines("counter-1")) + 1
    pg.psql(f"INSERT INTO audit_lines (station, line_no, line) SELECT station, {n}, line "
            f"FROM audit_lines WHERE station = 'counter-1' AND line_no = 2", user="counter1")
    damaged("counter-1", n, f"Line {n} has sequence number 2 where {n} was expected")
    refill("counter-1")


def a_line_holding_a_newline_is_found():
    # No line of a file holds one: joined as the file, it would make two lines of one.
    as_superuser("UPDATE audit_lines SET line = substring(line FROM 1 FOR 10) || '\\x0a'::bytea "
                 "|| substring(line FROM 11) WHERE station = 'counter-2' AND line_no = 2")
    damaged("counter-2", 2, "the line holds a newline byte, which no line of a file does")
    refill("counter-2")
    assert verify().returncode == 0


def an_unreachable_or_unreadable_database_is_named_without_the_password():
    for conninfo, host in ((f"host=/nonexistent dbname=tokend user=auditor1 "
                            f"password={PASSWORD}", "/nonexistent"),
                           (pg.conninfo("auditor1", password=PASSWORD + "x"), pg.dir)):
        for action in ("verify", "list"):
            p = tokenctl("audit", action, "--database", conninfo)
            assert p.returncode == 1, (p.stdout, p.stderr)
            assert f"Cannot connect to the database tokend on {host}: " in p.stderr, p.stderr
            p = tokenctl("--json", "audit", action, "--database", conninfo)
            doc = json.loads(p.stdout)
            validate(f"audit-{action}", doc)
            assert doc["error"]["exit-code"] == 1, doc
    p = tokenctl("audit", "verify", "--database", pg.conninfo("visitor"))
    assert p.returncode == 1 and "permission denied" in p.stderr, p.stderr
    assert "tokend_auditor" in p.stderr, p.stderr
    pg.stop()
    try:
        p = verify()
        assert p.returncode == 1, (p.stdout, p.stderr)
        assert f"Cannot connect to the {NAME}: " in p.stderr, p.stderr
    finally:
        pg.start()
    assert verify().returncode == 0


def database_with_a_file_or_config_is_a_usage_error():
    path = STATIONS["counter-1"][1].audit_file
    for args in (["audit", "verify", path, "--database", AUDITOR],
                 ["audit", "list", "--database", AUDITOR, "--config", "/etc/tokend/tokend.conf"]):
        p = tokenctl(*args)
        assert p.returncode == 2, (args, p.stderr)
        assert "--database" in p.stderr and "FILE" in p.stderr and "--config" in p.stderr, p.stderr
    p = tokenctl("audit", "verify", "--station", "counter-1")
    assert p.returncode == 2 and "--database" in p.stderr, p.stderr


try:
    rc = Tap([setup_two_stations_trails_in_the_database,
              verify_says_both_stations_are_intact,
              list_shows_both_stations_acts_by_time,
              list_filters_work_across_stations,
              a_station_role_cannot_change_remove_or_misattribute_lines,
              a_station_written_by_two_roles_is_warned_of,
              an_edited_line_is_found_at_its_station_and_line,
              a_deleted_line_is_found,
              reordered_lines_are_found,
              an_inserted_line_is_found,
              a_line_holding_a_newline_is_found,
              an_unreachable_or_unreadable_database_is_named_without_the_password,
              database_with_a_file_or_config_is_a_usage_error]).run()
finally:
    for e in envs:
        e.close()
    pg.close()
sys.exit(rc)
