/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tokend --migrate: applies daemon/sql/'s migrations that the database lacks, each in its own
 * transaction with its row in schema_version, as the database's owner. Two stations migrating
 * at once are serialised by a lock on schema_version. */
#include <stdio.h>

#include "log.h"
#include "store-pg.h"

typedef struct StoreMigration {
    unsigned version;
    const char *name;
    const char *sql;
} StoreMigration;

#include "store-pg-sql.h"

unsigned store_pg_schema_latest(void)
{
    return store_pg_migrations[ELEMENTSOF(store_pg_migrations) - 1].version;
}

static int apply(PGconn *conn, const StoreMigration *m, TkError *error)
{
    char what[128], version[16];
    snprintf(what, sizeof(what), "apply %s", m->name);
    snprintf(version, sizeof(version), "%u", m->version);
    const char *params[] = {version};
    /* The file is ours, built in: several statements, no parameters. */
    _cleanup_(PQclearp) PGresult *res = PQexec(conn, m->sql);
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
        const char *why = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);
        return tk_error_set(error, -EIO, TK_ERROR_FAILED, "Cannot %s: %.*s", what,
                            (int)strcspn(why, "\n"), why);
    }
    return pg_exec(conn, what, PGRES_COMMAND_OK, NULL, error,
                   "INSERT INTO schema_version (version) VALUES ($1)", 1, params);
}

/* One migration, unless another tokend --migrate applied it meanwhile. */
static int migrate_one(PGconn *conn, const StoreMigration *m, bool *applied, TkError *error)
{
    unsigned have;
    int r = pg_exec(conn, "begin a transaction", PGRES_COMMAND_OK, NULL, error, "BEGIN", 0, NULL);
    if (r >= 0)
        r = pg_exec(conn, "lock schema_version", PGRES_COMMAND_OK, NULL, error,
                    "LOCK TABLE schema_version IN EXCLUSIVE MODE", 0, NULL);
    if (r >= 0)
        r = pg_schema_version(conn, &have, error);
    *applied = r >= 0 && have < m->version;
    if (*applied)
        r = apply(conn, m, error);
    if (r >= 0)
        r = pg_exec(conn, "commit", PGRES_COMMAND_OK, NULL, error, "COMMIT", 0, NULL);
    if (r < 0)
        PQclear(PQexec(conn, "ROLLBACK"));
    return r;
}

int store_pg_migrate(const Config *config, TkError *error)
{
    _cleanup_(PQfinishp) PGconn *conn = NULL;
    PgTarget target = {};
    unsigned before;
    int r = pg_target_parse(config->store_connection, &target, error);
    if (r < 0)
        return r;
    r = pg_connect(&target, &conn, error);
    if (r >= 0)
        r = pg_exec(conn, "create schema_version", PGRES_COMMAND_OK, NULL, error,
                    "CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, "
                    "applied_at timestamptz NOT NULL DEFAULT now())",
                    0, NULL);
    if (r >= 0)
        r = pg_schema_version(conn, &before, error);
    for (size_t i = 0; r >= 0 && i < ELEMENTSOF(store_pg_migrations); i++) {
        bool applied;
        r = migrate_one(conn, &store_pg_migrations[i], &applied, error);
        if (r >= 0 && applied)
            log_info("Applied %s to the %s", store_pg_migrations[i].name, target.name);
    }
    if (r >= 0 && before >= store_pg_schema_latest())
        log_info("The %s has schema version %u already: nothing to do", target.name, before);
    /* The connection's notices name the target: it goes first. */
    PQfinish(TAKE_PTR(conn));
    pg_target_done(&target);
    return r;
}
