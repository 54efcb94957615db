/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the PostgreSQL store's files share: connecting, results, errors. */
#pragma once

#include "pg-target.h"
#include "store.h"

/* The schema version this tokend reads and writes: the last of daemon/sql/. */
unsigned store_pg_schema_latest(void);

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
