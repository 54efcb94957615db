/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The station's audit trail copied into the office's database (daemon/sql/002-audit.sql): every
 * line of the audit file, as its bytes and numbered as in the file, in table audit_lines under
 * the station's name. The file stays the first record of every act (written and fsync'd before
 * the act, whether or not the database can be reached); the copy follows it, a batch at a time,
 * so that lines written while the database was away arrive later in their order and with their
 * own times. The station's lines in the database are the file, and tokenctl audit verify
 * --database checks them with the file's own verifier.
 *
 * Where the copy stands is found by asking the database for the station's last line and finding
 * the same line, byte for byte, in the file: a database whose last line is not the file's (two
 * stations under one name, a replaced file) gets nothing more, and says so. Lines cut from the
 * end of the database's copy are copied again. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "audit-log.h"
#include "log.h"
#include "store-pg.h"
#include "time-util.h"

/* Lines per COPY (a line is at most TK_AUDIT_LINE_MAX bytes), and how long one call may go on
 * copying batches: a long history that a station brings into the database for the first time
 * is copied over a few rounds of the event loop rather than in one long stall. */
#define BATCH_LINES        512
#define FORWARD_SLICE_USEC (200 * 1000ull)

void pg_audit_done(PgAudit *a)
{
    free(a->path);
    free(a->diverged);
    *a = (PgAudit){};
}

typedef struct Locate {
    uint64_t want; /* the line number to find */
    uint64_t seen;
    const unsigned char *line;
    size_t len;
    bool found, same;
    uint64_t after; /* the offset after the line found */
} Locate;

static int locate_line(const char *line, size_t len, uint64_t offset, void *userdata)
{
    Locate *l = userdata;
    if (++l->seen < l->want)
        return 0;
    l->found = true;
    l->same = len == l->len && memcmp(line, l->line, len) == 0;
    l->after = offset + len + 1;
    return 1;
}

static int diverge(PgAudit *a, const char *station, const char *db, uint64_t n, const char *why,
                   TkError *error)
{
    free(a->diverged);
    if (asprintf(&a->diverged,
                 "The %s has %" PRIu64 " lines of station %s's audit trail, and %s: two stations "
                 "have the name %s ([Store] Station=), or the audit file was replaced. This "
                 "station copies no more lines there until that is sorted out (docs/office.md)",
                 db, n, station, why, station) < 0)
        a->diverged = NULL;
    log_error("%s", a->diverged ? a->diverged : "The audit trail's copy in the database diverged");
    return tk_error_set(error, -EPROTO, TK_ERROR_FAILED, "%s",
                        a->diverged ? a->diverged : "The audit trail's copy diverged");
}

/* Where the database's copy of the station's trail ends, in lines and in the file. */
static int locate(PgAudit *a, PGconn *conn, const char *station, const char *db, TkError *error)
{
    _cleanup_(PQclearp) PGresult *res = NULL;
    const char *params[] = {station};
    int r = pg_exec(conn, "read the end of the station's audit trail", PGRES_TUPLES_OK, &res, error,
                    "SELECT line_no, line FROM audit_lines WHERE station = $1 "
                    "ORDER BY line_no DESC LIMIT 1",
                    1, params);
    if (r < 0)
        return r;
    if (PQntuples(res) == 0) {
        a->lines = a->offset = 0;
        a->located = true;
        return 0;
    }
    uint64_t n = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
    size_t len = 0;
    _cleanup_(PQfreememp) unsigned char *line =
        PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, 1), &len);
    if (!line)
        return tk_error_set(error, -ENOMEM, TK_ERROR_FAILED, "Out of memory");
    Locate l = {.want = n, .line = line, .len = len};
    TkError e = {};
    r = tk_audit_read_lines(a->path, 0, SIZE_MAX, locate_line, &l, &e);
    if (r == -ENOENT)
        return diverge(a, station, db, n, "this station has no audit file", error);
    if (r < 0)
        return tk_error_set(error, r, TK_ERROR_FAILED, "%s", e.message);
    if (!l.found)
        return diverge(a, station, db, n, "this station's audit file has fewer", error);
    if (!l.same) {
        char why[96];
        snprintf(why, sizeof(why), "its line %" PRIu64 " is not this station's", n);
        return diverge(a, station, db, n, why, error);
    }
    if (a->lines > n)
        log_warning("The %s had lost lines %" PRIu64 " to %" PRIu64 " of station %s's audit "
                    "trail, which it had before: they are copied again from the audit file",
                    db, n + 1, a->lines, station);
    a->lines = n;
    a->offset = l.after;
    a->located = true;
    return 0;
}

typedef struct Batch {
    PGconn *conn;
    const char *station; /* as COPY's text format has it */
    uint64_t line_no;    /* of the next line */
    char *buf;
    size_t len, cap;
    size_t n;
    uint64_t end; /* the offset after the last line taken */
} Batch;

static int batch_put(Batch *b, const char *s, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        size_t cap = (b->len + len + 1) * 2;
        char *m = realloc(b->buf, cap);
        if (!m)
            return -ENOMEM;
        b->buf = m;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, s, len);
    b->len += len;
    b->buf[b->len] = 0;
    return 0;
}

/* s with every backslash doubled, COPY's text format's one escape that these fields need (the
 * station's name has no tab or newline: the configuration refuses them). */
static int batch_put_escaped(Batch *b, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        int r = batch_put(b, s + i, 1);
        if (r >= 0 && s[i] == '\\')
            r = batch_put(b, "\\", 1);
        if (r < 0)
            return r;
    }
    return 0;
}

/* The record's time as timestamptz text, or COPY's NULL for a line that is no record. */
static void line_time(const char *line, size_t len, char *buf, size_t size)
{
    json_tokener *tok = json_tokener_new();
    json_object *o = tok ? json_tokener_parse_ex(tok, line, (int)len) : NULL, *v;
    int64_t usec = 0;
    struct tm tm;
    if (o && json_object_object_get_ex(o, "time_usec", &v) && json_object_is_type(v, json_type_int))
        usec = json_object_get_int64(v);
    json_object_put(o);
    if (tok)
        json_tokener_free(tok);
    time_t t = (time_t)(usec / 1000000);
    if (usec <= 0 || usec == INT64_MAX || !gmtime_r(&t, &tm)) {
        snprintf(buf, size, "\\N");
        return;
    }
    char day[32];
    strftime(day, sizeof(day), "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(buf, size, "%s.%06" PRId64 "+00", day, usec % 1000000);
}

static int batch_line(const char *line, size_t len, uint64_t offset, void *userdata)
{
    Batch *b = userdata;
    char number[24], when[48];
    size_t hex_len;
    _cleanup_(PQfreememp) unsigned char *hex =
        PQescapeByteaConn(b->conn, (const unsigned char *)line, len, &hex_len);
    if (!hex)
        return -ENOMEM;
    snprintf(number, sizeof(number), "\t%" PRIu64 "\t", b->line_no + b->n + 1);
    line_time(line, len, when, sizeof(when));
    int r = batch_put_escaped(b, b->station, strlen(b->station));
    if (r >= 0)
        r = batch_put(b, number, strlen(number));
    if (r >= 0) /* hex_len counts the escape's terminating NUL */
        r = batch_put_escaped(b, (const char *)hex, hex_len - 1);
    if (r >= 0)
        r = batch_put(b, "\t", 1);
    if (r >= 0)
        r = batch_put(b, when, strlen(when));
    if (r >= 0)
        r = batch_put(b, "\n", 1);
    if (r < 0)
        return r;
    b->n++;
    b->end = offset + len + 1;
    return 0;
}

/* One COPY of the batch's lines: all of them are added, or none. */
static int copy_batch(PGconn *conn, const Batch *b, const char *station, TkError *error)
{
    char why[400];
    _cleanup_(PQclearp) PGresult *res =
        PQexec(conn, "COPY audit_lines (station, line_no, line, at) FROM STDIN");
    if (!res || PQresultStatus(res) != PGRES_COPY_IN) {
        pg_message(res ? PQresultErrorMessage(res) : PQerrorMessage(conn), false, why, sizeof(why));
        return tk_error_set(error, PQstatus(conn) == CONNECTION_OK ? -EIO : -ENOTCONN,
                            TK_ERROR_FAILED, "Cannot copy the audit trail: %s", why);
    }
    PQclear(TAKE_PTR(res));
    if (PQputCopyData(conn, b->buf, (int)b->len) != 1 || PQputCopyEnd(conn, NULL) != 1) {
        pg_message(PQerrorMessage(conn), false, why, sizeof(why));
        return tk_error_set(error, -ENOTCONN, TK_ERROR_FAILED, "Cannot copy the audit trail: %s",
                            why);
    }
    res = PQgetResult(conn);
    int r = 0;
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
        const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        pg_message(res ? PQresultErrorMessage(res) : PQerrorMessage(conn), false, why, sizeof(why));
        /* 23505: unique_violation, a line of that number is there already. */
        r = tk_error_set(error,
                         streq_ptr(state, "23505")         ? -EEXIST
                         : PQstatus(conn) == CONNECTION_OK ? -EIO
                                                           : -ENOTCONN,
                         TK_ERROR_FAILED, "Cannot copy station %s's audit trail: %s", station, why);
    }
    /* COPY ends with one result; libpq wants to be asked until it has no more. */
    PGresult *more;
    while ((more = PQgetResult(conn)))
        PQclear(more);
    return r;
}

int pg_audit_forward(PgAudit *a, PGconn *conn, const char *station, const char *db, TkError *error)
{
    if (a->diverged)
        return tk_error_set(error, -EPROTO, TK_ERROR_FAILED, "%s", a->diverged);
    if (!a->located) {
        int r = locate(a, conn, station, db, error);
        if (r < 0)
            return r;
    }
    uint64_t start = tk_now_usec(CLOCK_MONOTONIC);
    do {
        Batch b = {.conn = conn, .station = station, .line_no = a->lines};
        TkError e = {};
        int r = tk_audit_read_lines(a->path, a->offset, BATCH_LINES, batch_line, &b, &e);
        if (r == -ENOENT && a->lines == 0)
            r = 0; /* no act recorded yet */
        if (r >= 0 && b.n > 0)
            r = copy_batch(conn, &b, station, &e);
        free(b.buf);
        if (r < 0) {
            /* The next try asks the database again where its copy ends: the COPY may have
             * been done, with its answer lost, or another station may be writing as this
             * one. */
            a->located = false;
            return tk_error_set(error, r, TK_ERROR_FAILED, "%s", e.message);
        }
        if (b.n == 0)
            return 0;
        a->lines += b.n;
        a->offset = b.end;
    } while (tk_now_usec(CLOCK_MONOTONIC) - start < FORWARD_SLICE_USEC);
    return -EAGAIN; /* more to copy: the next round goes on */
}
