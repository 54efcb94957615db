/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Connecting to the office's database and running statements there, for store-pg.c and
 * tokend --migrate. The connection string comes from tokend.conf and may hold a password: it is
 * parsed by libpq, and only its dbname and host ever reach a message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store-pg.h"

void pg_target_done(PgTarget *t)
{
    STRV_FOREACH (v, t->values)
        explicit_bzero(*v, strlen(*v));
    strv_free(t->keywords);
    strv_free(t->values);
    free(t->name);
    *t = (PgTarget){};
}

/* The trailing newline goes too. */
void pg_message(const char *m, char *buf, size_t size)
{
    size_t n = 0;
    bool space = false;
    for (const char *p = m && *m ? m : "no reason given"; *p && n + 1 < size; p++) {
        bool blank = *p == '\n' || *p == '\t' || *p == ' ';
        if (blank) {
            space = n > 0;
            continue;
        }
        if (space && n + 2 < size)
            buf[n++] = ' ';
        space = false;
        buf[n++] = *p;
    }
    buf[n] = 0;
}

static int push_pair(PgTarget *t, size_t *n, const char *k, const char *v)
{
    char **nk = realloc(t->keywords, sizeof(char *) * (*n + 2));
    if (!nk)
        return -ENOMEM;
    t->keywords = nk;
    char **nv = realloc(t->values, sizeof(char *) * (*n + 2));
    if (!nv)
        return -ENOMEM;
    t->values = nv;
    nk[*n] = strdup(k);
    nv[*n] = strdup(v);
    nk[*n + 1] = nv[*n + 1] = NULL;
    (*n)++;
    return nk[*n - 1] && nv[*n - 1] ? 0 : -ENOMEM;
}

static int target_name(PgTarget *t, const char *dbname, const char *host)
{
    if (asprintf(&t->name, "database %s on %s", dbname ? dbname : "(libpq's default)",
                 host ? host : "the local socket") < 0) {
        t->name = NULL;
        return -ENOMEM;
    }
    return 0;
}

int pg_target_parse(const char *conninfo, PgTarget *ret, TkError *error)
{
    _cleanup_free_ char *why = NULL;
    PgTarget t = {};
    const char *dbname = NULL, *host = NULL;
    bool timeout = false, app = false;
    size_t n = 0;
    int r = 0;

    PQconninfoOption *opts = PQconninfoParse(conninfo ? conninfo : "", &why);
    if (!opts) {
        /* libpq's reason may quote a piece of the string, a password for all we know. */
        PQfreemem(TAKE_PTR(why));
        return tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                            "[Store] Connection= is not a libpq connection string "
                            "(keyword=value ... or a postgresql:// URI)");
    }
    for (PQconninfoOption *o = opts; r >= 0 && o->keyword; o++) {
        if (!o->val)
            continue;
        if (streq(o->keyword, "dbname"))
            dbname = o->val;
        else if (streq(o->keyword, "host"))
            host = o->val;
        timeout = timeout || streq(o->keyword, "connect_timeout");
        app = app || streq(o->keyword, "application_name");
        r = push_pair(&t, &n, o->keyword, o->val);
    }
    if (r >= 0 && !timeout)
        r = push_pair(&t, &n, "connect_timeout", "5");
    if (r >= 0 && !app)
        r = push_pair(&t, &n, "application_name", "tokend");
    if (r >= 0)
        r = target_name(&t, dbname, host);
    /* The values held the password, if any: wiped before they are freed. */
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (o->val)
            explicit_bzero(o->val, strlen(o->val));
    PQconninfoFree(opts);
    if (r < 0) {
        pg_target_done(&t);
        return tk_error_set(error, r, TK_ERROR_FAILED, "Out of memory");
    }
    *ret = t;
    return 0;
}

/* The server's notices ("terminating connection due to administrator command") go to tokend's
 * log with its priorities, not to standard error as libpq would print them. */
static void pg_notice(void *userdata, const char *message)
{
    char line[400];
    pg_message(message, line, sizeof(line));
    log_notice("%s: %s", (const char *)userdata, line);
}

int pg_connect(const PgTarget *t, PGconn **ret, TkError *error)
{
    char why[400];
    _cleanup_(PQfinishp) PGconn *conn =
        PQconnectdbParams((const char *const *)t->keywords, (const char *const *)t->values, 0);
    if (!conn)
        return tk_error_set(error, -ENOMEM, TK_ERROR_FAILED, "Out of memory");
    if (PQstatus(conn) != CONNECTION_OK) {
        pg_message(PQerrorMessage(conn), why, sizeof(why));
        return tk_error_set(error, -ECONNREFUSED, TK_ERROR_FAILED, "Cannot connect to the %s (%s)",
                            t->name, why);
    }
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
    pg_message(res ? PQresultErrorMessage(res) : PQerrorMessage(conn), why, sizeof(why));
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
