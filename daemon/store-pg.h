/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the PostgreSQL store's files share: connecting, results, errors. */
#pragma once

#include <stdint.h>

#include "pg-target.h"
#include "store.h"

/* The schema version this tokend reads and writes: the last of daemon/sql/. */
unsigned store_pg_schema_latest(void);

static inline void PQfreememp(unsigned char **p)
{
    if (*p)
        PQfreemem(*p);
}

/* [Store] Connection= parsed (libtoken/pg: PgTarget, pg_target_done()), application_name
 * tokend. */
int pg_target_parse(const char *conninfo, PgTarget *ret, TkError *error);

/* Connects; error names the database and says libpq's reason. */
int pg_connect(const PgTarget *t, PGconn **ret, TkError *error);

/* Runs sql with text parameters; -EBUSY for a lock another holds, -EIO for any other failure,
 * with error naming what failed and why. expect is PGRES_COMMAND_OK or PGRES_TUPLES_OK. */
int pg_exec(PGconn *conn, const char *what, ExecStatusType expect, PGresult **ret, TkError *error,
            const char *sql, int n, const char *const *params);

/* The schema version the database has: 0 before the first migration. */
int pg_schema_version(PGconn *conn, unsigned *ret, TkError *error);

/* Where the copy of the station's audit file in the database stands (store-pg-audit.c). */
typedef struct PgAudit {
    char *path;      /* the station's audit file */
    bool located;    /* lines and offset are known */
    uint64_t lines;  /* the file's lines that the database has */
    uint64_t offset; /* where the line after them begins in the file */
    char *diverged;  /* why the database's copy is not this file's: nothing more is copied */
} PgAudit;

/* Copies the file's lines that the database lacks, as station's, into audit_lines; db names the
 * database in messages. 0 when all are there, -EAGAIN when more are left for the next call
 * (each call copies for a bounded time), or a negative errno with error saying why: -EPROTO
 * when the database's copy is not this file's. */
int pg_audit_forward(PgAudit *a, PGconn *conn, const char *station, const char *db, TkError *error);
void pg_audit_done(PgAudit *a);
