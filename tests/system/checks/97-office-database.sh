#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A station of an office whose PostgreSQL store is reached over TCP (docs/office.md), with the
# machine's own PostgreSQL on 127.0.0.1 standing for the office's server: tokend as shipped has
# no network, so it says it cannot connect; with the shipped drop-in
# (tokend-office.conf.example, its address set) it connects, and its audit file, the acts of
# the earlier checks included, is copied into the database line by line: the station's lines
# there are the file, byte for byte, and a member of staff in tokend_auditor verifies them with
# tokenctl audit verify --database. Runs last: it leaves tokend on the database.
set -euo pipefail
. "$TOKEND_TEST_SUITE/lib.sh"

command -v pg_isready >/dev/null || fail "PostgreSQL is not installed in the test machine"
# The root was made without starting services: the cluster (made by the package, or here) is
# started by this check alone, so that it costs the other checks nothing.
[ -n "$(pg_lsclusters -h)" ] || pg_createcluster 15 main >/dev/null
systemctl start postgresql@15-main
wait_until 60 pg_isready -q -h 127.0.0.1 ||
    fail "PostgreSQL does not answer on 127.0.0.1: $(systemctl status postgresql@15-main 2>&1)"

PASSWORD=station-7731
sql() {
    runuser -u postgres -- psql -X -q -At -v ON_ERROR_STOP=1 -d "${DB:-tokend}" -c "$1"
}
DB=postgres sql "CREATE ROLE tokend_station NOLOGIN; CREATE ROLE tokend_auditor NOLOGIN;
    CREATE ROLE station1 LOGIN PASSWORD '$PASSWORD' IN ROLE tokend_station"
DB=postgres sql "CREATE DATABASE tokend"

conf=/etc/tokend/tokend.conf
cat >>"$conf" <<CONF

[Store]
Backend=postgresql
Connection=host=127.0.0.1 dbname=tokend user=station1 password=$PASSWORD
Station=system-test
CONF
# The schema, as the database's owner (here the superuser, over its own socket).
out=$(runuser -u postgres -- tokend --config "$conf" --migrate \
    --connection 'host=/var/run/postgresql dbname=tokend' 2>&1) || fail "tokend --migrate: $out"
echo "$out"

# This run's journal of tokend.
invocation_log() {
    journalctl --no-pager -o cat _SYSTEMD_INVOCATION_ID="$(unit_property tokend InvocationID)"
}
log_says() {
    invocation_log | grep -qF -- "$1"
}

systemctl restart tokend
wait_until 30 log_says "Cannot connect to the database tokend on 127.0.0.1" ||
    fail "tokend without the drop-in did not say it cannot connect: $(invocation_log)"
invocation_log | grep -F "Cannot connect" | head -n 1
if invocation_log | grep -qF "$PASSWORD"; then
    fail "the password is in tokend's journal"
fi
[ "$(sql "SELECT count(*) FROM audit_lines")" = 0 ] || fail "lines reached the database"

dropin=/usr/share/doc/tokend/tokend-office.conf.example
[ -f "$dropin" ] || fail "$dropin is not installed"
mkdir -p /etc/systemd/system/tokend.service.d
sed 's/^IPAddressAllow=.*/IPAddressAllow=127.0.0.1/' "$dropin" \
    >/etc/systemd/system/tokend.service.d/office.conf
systemctl daemon-reload
systemctl restart tokend
wait_until 30 log_says "Retry ledger and a copy of the audit trail in the database tokend on 127.0.0.1, station system-test" ||
    fail "tokend with the drop-in did not use the database: $(invocation_log)"
if log_says "Cannot connect"; then
    fail "tokend with the drop-in could not connect: $(invocation_log)"
fi

trail=/var/log/tokend/audit.jsonl
copied() {
    [ "$(sql "SELECT encode(sha256(string_agg(line || '\\x0a'::bytea, ''::bytea ORDER BY line_no)), 'hex')
        FROM audit_lines WHERE station = 'system-test'")" = "$(sha256sum <"$trail" | cut -d' ' -f1)" ]
}
wait_until 30 copied || fail "the database's lines of station system-test are not $trail:
$(sql "SELECT line_no, length(line) FROM audit_lines ORDER BY line_no" | tail -n 5)"
lines=$(wc -l <"$trail")
[ "$lines" -gt 10 ] || fail "only $lines lines in $trail"
echo "all $lines lines of $trail are in the database, as station system-test's"
sql "SELECT DISTINCT written_by FROM audit_lines"

# A member of staff with a role of their own in tokend_auditor (peer authentication on the
# socket: the role is the account's name) verifies the office's trail.
DB=postgres sql 'CREATE ROLE "tkt-audit" LOGIN IN ROLE tokend_auditor'
out=$(as_user tkt-audit tokenctl audit verify --database 'host=/var/run/postgresql dbname=tokend' 2>&1) ||
    fail "audit verify --database as tkt-audit: $out"
echo "$out"
grep -q "system-test" <<<"$out" || fail "the station system-test is not in: $out"
