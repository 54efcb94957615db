/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Connecting to the office's database and running statements there, for store-pg.c and
 * tokend --migrate. The connection string comes from tokend.conf and may hold a password: it is
 * parsed by libpq (libtoken/pg), and only its dbname and host ever reach a message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store-pg.h"

int pg_target_parse(const char *conninfo, PgTarget *ret, TkError *error)
{
    return pg_target_parse_as(conninfo, "[Store] Connection=", "tokend", ret, error);
}

/* The server's notices ("terminating connection due to administrator command") go to tokend's
 * log with its priorities, not to standard error as libpq would print them. */
static void pg_notice(void *userdata, const char *message)
{
    char line[400];
    pg_message(message, false, line, sizeof(line));
    log_notice("%s: %s", (const char *)userdata, line);
}

int pg_connect(const PgTarget *t, PGconn **ret, TkError *error)
{
    char why[400];
    _cleanup_(PQfinishp) PGconn *conn = NULL;
    int r = pg_target_connect(t, &conn, false, why, sizeof(why));
    if (r == -ENOMEM)
        return tk_error_set(error, -ENOMEM, TK_ERROR_FAILED, "Out of memory");
    if (r < 0)
        return tk_error_set(error, r, TK_ERROR_FAILED, "Cannot connect to the %s (%s)", t->name,
                            why);
    PQsetNoticeProcessor(conn, pg_notice, t->name);
    *ret = TAKE_PTR(conn);
    return 0;
}

int pg_exec(PGconn *conn, const char *what, ExecStatusType expect, PGresult **ret, TkError *error,
            const char *sql, int n, const char *const *params)
{
    char why[400];
    _cleanup_(PQclearp) PGresult *res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
    if (res && PQresultStatus(res) == expect) {
        if (ret)
            *ret = TAKE_PTR(res);
        return 0;
    }
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    pg_message(res ? PQresultErrorMessage(res) : PQerrorMessage(conn), false, why, sizeof(why));
    /* 55P03: lock_not_available, what NOWAIT answers when another transaction holds the row. */
    int r = streq_ptr(state, "55P03") ? -EBUSY : PQstatus(conn) == CONNECTION_OK ? -EIO : -ENOTCONN;
    return tk_error_set(error, r, TK_ERROR_FAILED, "Cannot %s: %s", what, why);
}

int pg_schema_version(PGconn *conn, unsigned *ret, TkError *error)
{
    _cleanup_(PQclearp) PGresult *res = NULL;
    int r = pg_exec(conn, "read the schema version", PGRES_TUPLES_OK, &res, error,
                    "SELECT to_regclass('schema_version') IS NOT NULL", 0, NULL);
    if (r < 0)
        return r;
    if (!streq(PQgetvalue(res, 0, 0), "t")) {
        *ret = 0;
        return 0;
    }
    PQclear(TAKE_PTR(res));
    r = pg_exec(conn, "read the schema version", PGRES_TUPLES_OK, &res, error,
                "SELECT coalesce(max(version), 0) FROM schema_version", 0, NULL);
    if (r < 0)
        return r;
    *ret = (unsigned)strtoul(PQgetvalue(res, 0, 0), NULL, 10);
    return 0;
}
