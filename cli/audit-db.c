/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit-db.h"
#include "audit-log.h"
#include "config.h"
#include "format.h"
#include "i18n.h"

#if TOKEND_HAVE_POSTGRESQL
#include "pg-target.h"

/* Binary results: line_no comes as 8 bytes big-endian, the line as its bytes, the names as
 * theirs. COLLATE "C": the stations in the order of their bytes, whatever the database's
 * locale. */
#define SELECT_LINES                                                \
    "SELECT station, line_no, line, written_by FROM audit_lines%s " \
    "ORDER BY station COLLATE \"C\", line_no"

static void station_reset(AuditStation *s)
{
    free(s->data);
    strv_free(s->written_by);
    *s = (AuditStation){.database = s->database};
}

static int station_append(AuditStation *s, const char *line, size_t len)
{
    /* The reader refuses a line longer than TK_AUDIT_LINE_MAX after TK_AUDIT_LINE_MAX + 1
     * bytes: more need not be kept. */
    if (len > TK_AUDIT_LINE_MAX + 1)
        len = TK_AUDIT_LINE_MAX + 1;
    if (s->len + len + 1 > s->allocated) {
        size_t n = s->allocated ? s->allocated : 65536;
        while (n < s->len + len + 1)
            if (__builtin_mul_overflow(n, 2, &n))
                return -ENOMEM;
        char *m = realloc(s->data, n);
        if (!m)
            return -ENOMEM;
        s->data = m;
        s->allocated = n;
    }
    memcpy(s->data + s->len, line, len);
    s->data[s->len + len] = '\n';
    s->len += len + 1;
    return 0;
}

static int station_add_writer(AuditStation *s, const char *role)
{
    STRV_FOREACH (w, s->written_by)
        if (streq(*w, role))
            return 0;
    size_t n = strv_length(s->written_by);
    char **m = realloc(s->written_by, (n + 2) * sizeof(char *));
    if (!m)
        return -ENOMEM;
    s->written_by = m;
    m[n] = strdup(role);
    m[n + 1] = NULL;
    return m[n] ? 0 : -ENOMEM;
}

/* Takes one row; the station's lines are numbered 1, 2, ... with none left out, and a line is
 * the bytes of one line of a file. */
static int station_add_row(AuditStation *s, uint64_t line_no, const char *line, size_t len,
                           const char *role)
{
    int r = station_add_writer(s, role);
    if (r < 0)
        return r;
    s->rows++;
    if (s->gap != AUDIT_STATION_WHOLE)
        return 0;
    if (line_no != s->rows) {
        /* Ordered by line_no and unique in it: a number past the next one leaves a line out. */
        s->gap = AUDIT_STATION_MISSING_LINE;
        s->bad_line = s->rows;
        return 0;
    }
    if (memchr(line, '\n', len)) {
        s->gap = AUDIT_STATION_NEWLINE;
        s->bad_line = line_no;
        return 0;
    }
    return station_append(s, line, len);
}

static int fail_read(Context *ctx, const char *where, PGresult *res, PGconn *conn)
{
    char why[400];
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    pg_message(res ? PQresultErrorMessage(res) : PQerrorMessage(conn), true, why, sizeof(why));
    /* 42501: insufficient_privilege; 42P01: undefined_table. */
    if (streq_ptr(state, "42501"))
        return fail(ctx, CLI_ERROR_FAILED,
                    "Cannot read the audit trail from the %s: %s. The staff who verify it need the "
                    "role tokend_auditor (GRANT tokend_auditor TO YOUR_ROLE, as docs/office.md "
                    "says).",
                    where, why);
    if (streq_ptr(state, "42P01"))
        return fail(ctx, CLI_ERROR_FAILED,
                    "Cannot read the audit trail from the %s: %s. Its schema is older than this "
                    "tokenctl's: run tokend --migrate for the office.",
                    where, why);
    return fail(ctx, CLI_ERROR_FAILED, "Cannot read the audit trail from the %s: %s", where, why);
}

static int read_rows(Context *ctx, PGconn *conn, const char *where, const char *station,
                     AuditStation *s, AuditStationFn fn, void *userdata)
{
    char sql[256];
    const char *params[] = {station};
    snprintf(sql, sizeof(sql), SELECT_LINES, station ? " WHERE station = $1" : "");
    if (!PQsendQueryParams(conn, sql, station ? 1 : 0, NULL, params, NULL, NULL, 1))
        return fail_read(ctx, where, NULL, conn);
    /* Row by row: what is held is the station being read, not the office's whole trail. */
    if (!PQsetSingleRowMode(conn))
        return fail_read(ctx, where, NULL, conn);

    int r = 0;
    for (;;) {
        _cleanup_(PQclearp) PGresult *res = PQgetResult(conn);
        if (!res)
            break;
        if (r != 0)
            continue; /* the results left, read to the end of the query */
        ExecStatusType status = PQresultStatus(res);
        if (status == PGRES_TUPLES_OK)
            continue;
        if (status != PGRES_SINGLE_TUPLE) {
            r = fail_read(ctx, where, res, conn);
            continue;
        }
        const char *name = PQgetvalue(res, 0, 0), *line = PQgetvalue(res, 0, 2);
        uint64_t be;
        if (PQnfields(res) != 4 || PQgetlength(res, 0, 1) != (int)sizeof(be) ||
            PQgetisnull(res, 0, 0) || PQgetisnull(res, 0, 2) || PQgetisnull(res, 0, 3)) {
            r = fail(ctx, CLI_ERROR_FAILED,
                     "Cannot read the audit trail from the %s: audit_lines is not the table this "
                     "tokenctl knows",
                     where);
            continue;
        }
        memcpy(&be, PQgetvalue(res, 0, 1), sizeof(be));
        if (s->name && !streq(s->name, name)) {
            r = fn(ctx, s, userdata);
            free(s->name);
            station_reset(s);
            if (r != 0)
                continue;
        }
        if (!s->name && !(s->name = strdup(name)))
            r = fail_errno(ctx, -ENOMEM, "Cannot read the audit trail from the %s", where);
        else if (station_add_row(s, be64toh(be), line, (size_t)PQgetlength(res, 0, 2),
                                 PQgetvalue(res, 0, 3)) < 0)
            r = fail_errno(ctx, -ENOMEM, "Cannot read the audit trail from the %s", where);
    }
    if (r == 0 && s->name)
        r = fn(ctx, s, userdata);
    if (r == 0 && station && !s->name)
        r = fail(ctx, CLI_ERROR_FAILED, "The %s holds no line of the station %s.", where, station);
    return r;
}

int audit_db_read(Context *ctx, const char *conninfo, const char *station, char **ret_name,
                  AuditStationFn fn, void *userdata)
{
    _cleanup_(pg_target_done) PgTarget target = {};
    _cleanup_(PQfinishp) PGconn *conn = NULL;
    char *where = NULL, why[400];
    TkError error = {};

    int r = pg_target_parse_as(conninfo, "--database", "tokenctl", &target, &error);
    if (r == -EINVAL)
        return fail(ctx, CLI_ERROR_USAGE,
                    "--database takes a libpq connection string: keyword=value ... (such as "
                    "\"service=tokend\" or \"host=db.example dbname=tokend user=NAME\") or a "
                    "postgresql:// URI");
    if (r < 0)
        return fail_errno(ctx, r, "Cannot read the audit trail from the database");
    /* Named by its dbname and host alone: the rest of the string may hold a password. */
    if (asprintf(&where, _("database %s on %s"), target.dbname ?: _("(libpq's default)"),
                 target.host ?: _("the local socket")) < 0) {
        where = NULL;
        return fail_errno(ctx, -ENOMEM, "Cannot read the audit trail from the database");
    }
    *ret_name = where;

    r = pg_target_connect(&target, &conn, true, why, sizeof(why));
    if (r == -ENOMEM)
        return fail_errno(ctx, r, "Cannot connect to the %s", where);
    if (r < 0)
        return fail(ctx, CLI_ERROR_FAILED, "Cannot connect to the %s: %s", where, why);

    AuditStation s = {.database = where};
    r = read_rows(ctx, conn, where, station, &s, fn, userdata);
    free(s.name);
    station_reset(&s);
    return r;
}

#else

int audit_db_read(Context *ctx, const char *conninfo, const char *station, char **ret_name,
                  AuditStationFn fn, void *userdata)
{
    return fail(ctx, CLI_ERROR_FAILED,
                "Cannot read the audit trail from a database: this tokenctl was built without "
                "PostgreSQL (libpq); read each station's file instead");
}

#endif
