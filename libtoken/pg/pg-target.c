/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg-target.h"

void pg_target_done(PgTarget *t)
{
    STRV_FOREACH (v, t->values)
        explicit_bzero(*v, strlen(*v));
    strv_free(t->keywords);
    strv_free(t->values);
    free(t->name);
    free(t->dbname);
    free(t->host);
    *t = (PgTarget){};
}

void pg_message(const char *m, bool first_line, char *buf, size_t size)
{
    size_t n = 0;
    bool space = false;
    for (const char *p = m && *m ? m : "no reason given"; *p && n + 1 < size; p++) {
        if (first_line && *p == '\n' && n > 0)
            break;
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
    if ((dbname && !(t->dbname = strdup(dbname))) || (host && !(t->host = strdup(host))))
        return -ENOMEM;
    if (asprintf(&t->name, "database %s on %s", dbname ? dbname : "(libpq's default)",
                 host ? host : "the local socket") < 0) {
        t->name = NULL;
        return -ENOMEM;
    }
    return 0;
}

int pg_target_parse_as(const char *conninfo, const char *setting, const char *application_name,
                       PgTarget *ret, TkError *error)
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
                            "%s is not a libpq connection string "
                            "(keyword=value ... or a postgresql:// URI)",
                            setting);
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
        r = push_pair(&t, &n, "application_name", application_name);
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

int pg_target_connect(const PgTarget *t, PGconn **ret, bool first_line, char *why, size_t why_size)
{
    _cleanup_(PQfinishp) PGconn *conn =
        PQconnectdbParams((const char *const *)t->keywords, (const char *const *)t->values, 0);
    if (!conn)
        return -ENOMEM;
    if (PQstatus(conn) != CONNECTION_OK) {
        pg_message(PQerrorMessage(conn), first_line, why, why_size);
        return -ECONNREFUSED;
    }
    *ret = TAKE_PTR(conn);
    return 0;
}
