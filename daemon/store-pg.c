/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The retry ledger in a PostgreSQL database that an office's stations share (docs/office.md):
 * per token serial its count (ledger_counts), and every attempt with the station that made it
 * (ledger_attempts, append-only for tokend's role), both written in one transaction.
 *
 * An unblock holds its token's row from the final-try check to its outcome: SELECT ... FOR
 * UPDATE NOWAIT in a transaction on a connection of its own, which the outcome's record commits
 * (or closing it rolls back). A second station that tries the same token meanwhile is refused at
 * once rather than made to wait: tokend's event loop never waits for another station's act. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "store-pg.h"
#include "time-util.h"

/* After a failed connection, reads wait this long before trying again; an unblock's check
 * always tries. */
#define RECONNECT_USEC (5 * 1000000ull)

typedef struct PgHold {
    char *serial;
    PGconn *conn; /* in a transaction holding the serial's row */
    struct PgHold *next;
} PgHold;

typedef struct PgStore {
    Store store;
    PgTarget target;
    char *station;
    PGconn *conn; /* reads and records outside a hold; NULL until connected, or once broken */
    bool failing; /* the last connection failed: logged once, when it starts and when it ends */
    uint64_t retry_usec;
    PgHold *holds;
    PgAudit audit;
    char *state_dir;      /* where the file back-end's ledger of this station's past may be */
    bool ledger_imported; /* that ledger is in the database, or there was none */
    bool forward_failing; /* the last copy of the trail failed with the database reachable */
} PgStore;

static int schema_check(PgStore *p, PGconn *conn, TkError *error)
{
    unsigned have, want = store_pg_schema_latest();
    int r = pg_schema_version(conn, &have, error);
    if (r < 0)
        return r;
    if (have < want)
        return tk_error_set(error, -EPROTO, TK_ERROR_FAILED,
                            "The %s has schema version %u, this tokend needs %u: run tokend "
                            "--migrate as the database's owner",
                            p->target.name, have, want);
    if (have > want)
        return tk_error_set(error, -EPROTO, TK_ERROR_FAILED,
                            "The %s has schema version %u, newer than this tokend's %u: update "
                            "tokend on this station",
                            p->target.name, have, want);
    return 0;
}

typedef struct Import {
    PGconn *conn;
    const char *station;
    size_t n;
    TkError *error;
} Import;

/* A count this station kept alone, added to the office's: the tries it saw fail are spent on
 * the card whatever other stations saw, so the sum is what the final-try guard must reckon
 * with. */
static int import_entry(const char *serial, TkLedgerCount count, void *userdata)
{
    Import *im = userdata;
    char failed[16], unknown[16];
    if (count.failed < 0)
        return 0;
    snprintf(failed, sizeof(failed), "%d", count.failed);
    snprintf(unknown, sizeof(unknown), "%d", count.unknown);
    const char *params[] = {serial, failed, unknown, im->station};
    int r = pg_exec(im->conn, "add the station's retry ledger", PGRES_COMMAND_OK, NULL, im->error,
                    "INSERT INTO ledger_counts AS c (serial, failed, unknown, station) "
                    "VALUES ($1, $2, $3, $4) ON CONFLICT (serial) DO UPDATE SET "
                    "failed = least(coalesce(c.failed, 0) + excluded.failed, 1000000), "
                    "unknown = least(c.unknown + excluded.unknown, 1000000), "
                    "station = excluded.station, changed_at = now()",
                    4, params);
    if (r >= 0)
        im->n++;
    return r;
}

/* The first time this station reaches the database, the ledger it kept in its state directory
 * with the file back-end goes in (in one transaction), and the file is renamed so that it is
 * never added twice: the office's count then includes what this station saw alone. */
static int import_file_ledger(PgStore *p, PGconn *conn)
{
    _cleanup_free_ char *from = NULL, *to = NULL;
    TkError e = {};
    if (p->ledger_imported || !p->state_dir)
        return 0;
    if (asprintf(&from, "%s/%s", p->state_dir, TK_LEDGER_FILE) < 0 ||
        asprintf(&to, "%s/%s.imported", p->state_dir, TK_LEDGER_FILE) < 0)
        return -ENOMEM;
    if (access(from, F_OK) < 0) {
        p->ledger_imported = true;
        return 0;
    }
    Import im = {.conn = conn, .station = p->station, .error = &e};
    int r = pg_exec(conn, "begin a transaction", PGRES_COMMAND_OK, NULL, &e, "BEGIN", 0, NULL);
    if (r >= 0) {
        r = tk_ledger_foreach(p->state_dir, import_entry, &im);
        if (r < 0 && !tk_error_is_set(&e))
            tk_error_set(&e, r, TK_ERROR_FAILED, "Cannot read the retry ledger %s: %s", from,
                         strerror(-r));
    }
    if (r >= 0)
        r = pg_exec(conn, "commit the station's retry ledger", PGRES_COMMAND_OK, NULL, &e, "COMMIT",
                    0, NULL);
    if (r < 0) {
        PQclear(PQexec(conn, "ROLLBACK"));
        return log_error_errno(r,
                               "%s; the station's own retry ledger %s is added to the %s "
                               "at the next connection",
                               e.message, from, p->target.name);
    }
    p->ledger_imported = true;
    if (rename(from, to) < 0)
        return log_error_errno(errno,
                               "The retry ledger %s is in the %s, but cannot be renamed "
                               "to %s: %m. Rename it by hand before tokend next starts, "
                               "or its counts are added again",
                               from, p->target.name, to);
    log_notice("The retry ledger %s of this station (%zu tokens) is added to the %s's; the file "
               "is kept as %s",
               from, im.n, p->target.name, to);
    return 0;
}

/* The connection for reads and lone records, made (again) when there is none or it broke. */
static int pg_ready(PgStore *p, bool always, TkError *error)
{
    /* A connection that the server dropped (a restart, a stop) shows as broken only once it is
     * used: before a write, an empty query finds out, so that one is made anew rather than
     * failing. Its answer is what counts: after the server's immediate shutdown, libpq returns
     * the error and still says CONNECTION_OK. */
    if (always && p->conn) {
        PGresult *res = PQexec(p->conn, "");
        bool answered = res && PQresultStatus(res) == PGRES_EMPTY_QUERY;
        PQclear(res);
        if (!answered) {
            PQfinish(p->conn);
            p->conn = NULL;
        }
    }
    if (p->conn && PQstatus(p->conn) == CONNECTION_OK)
        return 0;
    if (p->conn) {
        PQfinish(p->conn);
        p->conn = NULL;
    }
    if (!always && p->failing && tk_now_usec(CLOCK_MONOTONIC) < p->retry_usec)
        return tk_error_set(error, -ENOTCONN, TK_ERROR_FAILED, "The %s cannot be reached",
                            p->target.name);
    _cleanup_(PQfinishp) PGconn *conn = NULL;
    int r = pg_connect(&p->target, &conn, error);
    if (r >= 0)
        r = schema_check(p, conn, error);
    if (r < 0) {
        if (!p->failing)
            log_error("%s. Unblocks of tokens whose PUK only the retry ledger counts are refused "
                      "until it works again; %s",
                      error->message,
                      p->store.unreachable == STORE_REFUSE
                          ? "so are all acts, which the office's audit trail cannot take now "
                            "([Store] WhenUnreachable=refuse)."
                          : "other acts are recorded in the audit file and copied to the "
                            "database once it is back.");
        p->failing = true;
        p->retry_usec = tk_now_usec(CLOCK_MONOTONIC) + RECONNECT_USEC;
        return r;
    }
    if (p->failing)
        log_info("The %s can be reached again", p->target.name);
    p->failing = false;
    (void)import_file_ledger(p, conn);
    p->conn = TAKE_PTR(conn);
    return 0;
}

/* A statement failed: a broken connection is made again next time. */
static int pg_failed(PgStore *p, int r)
{
    if (p->conn && PQstatus(p->conn) != CONNECTION_OK) {
        PQfinish(p->conn);
        p->conn = NULL;
    }
    return r;
}

static TkLedgerCount count_from(PGresult *res)
{
    if (PQntuples(res) < 1 || PQgetisnull(res, 0, 0))
        return TK_LEDGER_NO_RECORD;
    long failed = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    long unknown = PQgetisnull(res, 0, 1) ? 0 : strtol(PQgetvalue(res, 0, 1), NULL, 10);
    /* The table's checks keep both within the ledger's range. */
    if (failed < 0 || failed > TK_LEDGER_FAILED_MAX || unknown < 0 ||
        unknown > TK_LEDGER_FAILED_MAX)
        return TK_LEDGER_NO_RECORD;
    return (TkLedgerCount){.failed = (int)failed, .unknown = (int)unknown};
}

static int pg_ledger_get(Store *s, const char *serial, TkLedgerCount *ret)
{
    PgStore *p = (PgStore *)s;
    _cleanup_(PQclearp) PGresult *res = NULL;
    TkError e = {};
    int r = pg_ready(p, false, &e);
    if (r < 0)
        return r;
    const char *params[] = {serial};
    r = pg_exec(p->conn, "read the retry ledger", PGRES_TUPLES_OK, &res, &e,
                "SELECT failed, unknown FROM ledger_counts WHERE serial = $1", 1, params);
    if (r < 0) {
        log_error("%s", e.message);
        return pg_failed(p, r);
    }
    *ret = count_from(res);
    return 0;
}

/* The serial's row exists before anyone locks it, so that two stations' first attempts lock
 * one row rather than race to insert it. */
static int ensure_row(PGconn *conn, const char *serial, TkError *error)
{
    const char *params[] = {serial};
    return pg_exec(conn, "add the token to the retry ledger", PGRES_COMMAND_OK, NULL, error,
                   "INSERT INTO ledger_counts (serial) VALUES ($1) ON CONFLICT DO NOTHING", 1,
                   params);
}

static int begin_locked(PGconn *conn, const char *serial, PGresult **ret, TkError *error)
{
    const char *params[] = {serial};
    int r = pg_exec(conn, "begin a transaction", PGRES_COMMAND_OK, NULL, error, "BEGIN", 0, NULL);
    if (r >= 0)
        r = pg_exec(conn, "lock the token's count", PGRES_TUPLES_OK, ret, error,
                    "SELECT failed, unknown FROM ledger_counts WHERE serial = $1 FOR UPDATE NOWAIT",
                    1, params);
    return r;
}

static const char *outcome_name(TkLedgerOutcome o)
{
    return o == TK_LEDGER_SUCCESS ? "success" : o == TK_LEDGER_FAILED ? "failed" : "unknown";
}

/* In a transaction that holds the serial's row: the attempt, the new count, commit. */
static int record_locked(PGconn *conn, const char *station, const char *serial,
                         TkLedgerOutcome outcome, TkError *error)
{
    _cleanup_(PQclearp) PGresult *res = NULL;
    char failed[16], unknown[16];
    const char *params[] = {serial};
    int r = pg_exec(conn, "read the token's count", PGRES_TUPLES_OK, &res, error,
                    "SELECT failed, unknown FROM ledger_counts WHERE serial = $1 FOR UPDATE NOWAIT",
                    1, params);
    if (r < 0)
        return r;
    TkLedgerCount next = tk_ledger_count_next(count_from(res), outcome);
    snprintf(failed, sizeof(failed), "%d", next.failed);
    snprintf(unknown, sizeof(unknown), "%d", next.unknown);
    const char *attempt[] = {serial, station, outcome_name(outcome)};
    r = pg_exec(conn, "record the attempt", PGRES_COMMAND_OK, NULL, error,
                "INSERT INTO ledger_attempts (serial, station, outcome) VALUES ($1, $2, $3)", 3,
                attempt);
    const char *count[] = {serial, failed, unknown, station};
    if (r >= 0)
        r = pg_exec(conn, "write the token's count", PGRES_COMMAND_OK, NULL, error,
                    "UPDATE ledger_counts SET failed = $2, unknown = $3, station = $4, "
                    "changed_at = now() WHERE serial = $1",
                    4, count);
    if (r >= 0)
        r = pg_exec(conn, "commit the attempt", PGRES_COMMAND_OK, NULL, error, "COMMIT", 0, NULL);
    return r;
}

static PgHold **hold_find(PgStore *p, const char *serial)
{
    PgHold **h = &p->holds;
    while (*h && !streq((*h)->serial, serial))
        h = &(*h)->next;
    return h;
}

/* Ends the hold: closing its connection rolls back whatever it did not commit. */
static void hold_drop(PgHold **h)
{
    PgHold *hold = *h;
    *h = hold->next;
    PQfinish(hold->conn);
    free(hold->serial);
    free(hold);
}

static int pg_ledger_record(Store *s, const char *serial, TkLedgerOutcome outcome)
{
    PgStore *p = (PgStore *)s;
    TkError e = {};
    PgHold **h = hold_find(p, serial);
    int r;

    if (*h) {
        r = record_locked((*h)->conn, p->station, serial, outcome, &e);
        hold_drop(h);
    } else {
        r = pg_ready(p, true, &e);
        if (r >= 0)
            r = ensure_row(p->conn, serial, &e);
        if (r >= 0)
            r = pg_exec(p->conn, "begin a transaction", PGRES_COMMAND_OK, NULL, &e, "BEGIN", 0,
                        NULL);
        if (r >= 0)
            r = record_locked(p->conn, p->station, serial, outcome, &e);
        if (r < 0 && p->conn && PQstatus(p->conn) == CONNECTION_OK)
            PQclear(PQexec(p->conn, "ROLLBACK"));
        pg_failed(p, r);
    }
    if (r < 0)
        log_error("Token %s: %s", serial, e.message);
    return r;
}

static int pg_ledger_check(Store *s, TkError *error)
{
    return pg_ready((PgStore *)s, true, error);
}

static int pg_ledger_hold(Store *s, const char *serial, TkError *error)
{
    PgStore *p = (PgStore *)s;
    _cleanup_(PQfinishp) PGconn *conn = NULL;
    _cleanup_(PQclearp) PGresult *res = NULL;
    PgHold **h = hold_find(p, serial);
    if (*h)
        hold_drop(h);
    int r = pg_connect(&p->target, &conn, error);
    if (r >= 0)
        r = ensure_row(conn, serial, error);
    if (r >= 0)
        r = begin_locked(conn, serial, &res, error);
    if (r == -EBUSY)
        return tk_error_set(error, r, TK_ERROR_FAILED,
                            "Token %s is being unblocked at another station of the office now. "
                            "Try again once that is done; its count is then read anew",
                            serial);
    if (r < 0)
        return r;
    PgHold *hold = calloc(1, sizeof(PgHold));
    if (!hold || !(hold->serial = strdup(serial))) {
        free(hold);
        return tk_error_set(error, -ENOMEM, TK_ERROR_FAILED, "Out of memory");
    }
    hold->conn = TAKE_PTR(conn);
    hold->next = p->holds;
    p->holds = hold;
    return 0;
}

static void pg_ledger_release(Store *s, const char *serial)
{
    PgHold **h = hold_find((PgStore *)s, serial);
    if (*h)
        hold_drop(h);
}

static int pg_audit_forward_op(Store *s, bool now, TkError *error)
{
    PgStore *p = (PgStore *)s;
    int r = pg_ready(p, now, error);
    if (r < 0)
        return r;
    TkError e = {};
    r = pg_audit_forward(&p->audit, p->conn, p->station, p->target.name, &e);
    if (r < 0 && r != -EAGAIN) {
        pg_failed(p, r);
        /* A diverged copy said so itself; a lost connection is found and logged by the next
         * pg_ready(). */
        if (!p->forward_failing && r != -EPROTO && r != -ENOTCONN)
            log_error("%s; the lines wait in the audit file %s", e.message, p->audit.path);
        p->forward_failing = r != -ENOTCONN;
        return tk_error_set(error, r, TK_ERROR_FAILED, "%s", e.message);
    }
    if (p->forward_failing)
        log_info("The audit trail's copy in the %s is written again", p->target.name);
    p->forward_failing = false;
    return r;
}

static void pg_free(Store *s)
{
    PgStore *p = (PgStore *)s;
    pg_audit_done(&p->audit);
    while (p->holds)
        hold_drop(&p->holds);
    PQfinish(p->conn);
    pg_target_done(&p->target);
    free(p->state_dir);
    free(p->station);
    free(s->ledger_name);
    free(p);
}

static const StoreOps pg_ops = {
    .ledger_get = pg_ledger_get,
    .ledger_record = pg_ledger_record,
    .ledger_check = pg_ledger_check,
    .ledger_hold = pg_ledger_hold,
    .ledger_release = pg_ledger_release,
    .audit_forward = pg_audit_forward_op,
    .shared = true,
    .free = pg_free,
};

/* The station's name: Station=, else the machine id. */
static int station_name(const Config *config, char **ret, TkError *error)
{
    char id[64] = "";
    if (config->store_station) {
        *ret = strdup(config->store_station);
        return *ret ? 0 : tk_error_set(error, -ENOMEM, TK_ERROR_FAILED, "Out of memory");
    }
    FILE *f = fopen("/etc/machine-id", "re");
    if (!f || !fgets(id, sizeof(id), f) || strlen(id) < 32) {
        if (f)
            fclose(f);
        return tk_error_set(error, -ENOENT, TK_ERROR_INVALID_ARGUMENT,
                            "/etc/machine-id gives no machine id: set [Store] Station= to name "
                            "this station in the office's records");
    }
    fclose(f);
    id[strcspn(id, "\n")] = 0;
    *ret = strdup(id);
    return *ret ? 0 : tk_error_set(error, -ENOMEM, TK_ERROR_FAILED, "Out of memory");
}

/* A role that may change what it wrote makes the attempts worth nothing as a record. */
static void warn_if_not_append_only(PgStore *p)
{
    _cleanup_(PQclearp) PGresult *res = NULL;
    TkError e = {};
    if (pg_exec(p->conn, "read tokend's grants", PGRES_TUPLES_OK, &res, &e,
                "SELECT has_table_privilege('ledger_attempts', 'UPDATE') OR "
                "has_table_privilege('ledger_attempts', 'DELETE')",
                0, NULL) < 0)
        return;
    if (streq(PQgetvalue(res, 0, 0), "t"))
        log_warning("tokend's role in the %s may update or delete ledger_attempts: give it "
                    "only the role tokend_station, as docs/office.md says",
                    p->target.name);
}

int store_pg_open(const Config *config, const char *state_dir, Store **ret, TkError *error)
{
    PgStore *p = calloc(1, sizeof(PgStore));
    if (!p)
        return tk_error_set(error, -ENOMEM, TK_ERROR_FAILED, "Out of memory");
    p->store.ops = &pg_ops;
    p->store.unreachable = config->store_unreachable;
    p->audit.path = strdup(config->audit_file);
    p->state_dir = state_dir ? strdup(state_dir) : NULL;
    if (!p->audit.path || (state_dir && !p->state_dir)) {
        free(p->audit.path);
        free(p);
        return tk_error_set(error, -ENOMEM, TK_ERROR_FAILED, "Out of memory");
    }
    int r = pg_target_parse(config->store_connection, &p->target, error);
    if (r >= 0)
        r = station_name(config, &p->station, error);
    if (r >= 0 && asprintf(&p->store.ledger_name, "in the %s", p->target.name) < 0) {
        p->store.ledger_name = NULL;
        r = tk_error_set(error, -ENOMEM, TK_ERROR_FAILED, "Out of memory");
    }
    if (r < 0) {
        pg_free(&p->store);
        return r;
    }
    /* A database that cannot be reached now may be later, and only unblocks need it; one whose
     * schema is not this tokend's would fail every unblock, so tokend does not start on it. */
    TkError e = {};
    r = pg_ready(p, true, &e);
    if (r == -EPROTO) {
        pg_free(&p->store);
        return tk_error_set(error, r, TK_ERROR_FAILED, "%s", e.message);
    }
    if (r >= 0)
        warn_if_not_append_only(p);
    log_info("Retry ledger and a copy of the audit trail in the %s, station %s", p->target.name,
             p->station);
    *ret = &p->store;
    return 0;
}
