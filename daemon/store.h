/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "config.h" /* the build configuration: TOKEND_HAVE_POSTGRESQL */
#include "retry-ledger.h"
#include "token-error.h"
#include "tokend-config.h"

/* Where the main process keeps what must outlive it and, in an office, be shared by its
 * stations: the retry ledger, and a copy of the audit trail. Two back-ends: the state
 * directory's files (store-file.c), and a PostgreSQL database (store-pg.c), chosen by [Store]
 * Backend=. The audit file ([Audit] File=) is the first record of every act with either; a
 * shared store takes a copy of its lines (store-pg-audit.c). Every call may block: the file
 * back-end on the disk, the database on the network (within libpq's connect_timeout). No
 * secret is ever handed to a store. */
typedef struct Store Store;

typedef struct StoreOps {
    /* *ret: the serial's record, TK_LEDGER_NO_RECORD when it has none. */
    int (*ledger_get)(Store *s, const char *serial, TkLedgerCount *ret);
    /* Counts one attempt's outcome, with the attempt itself where the store keeps attempts, in
     * one transaction; a hold on serial is ended by it. */
    int (*ledger_record)(Store *s, const char *serial, TkLedgerOutcome outcome);
    /* Whether the ledger can be written now; error says why not. */
    int (*ledger_check)(Store *s, TkError *error);
    /* Holds serial's count from the final-try check to the outcome, so that no other station
     * counts or tries the same token meanwhile: -EBUSY (error says so) when one already holds
     * it. A store that only this tokend writes holds nothing: the token's queue does that. */
    int (*ledger_hold)(Store *s, const char *serial, TkError *error);
    /* Ends a hold that no outcome ended (the call was refused or its outcome does not count). */
    void (*ledger_release)(Store *s, const char *serial);
    /* Copies the audit file's lines that the store lacks into it. now: try even while the
     * store was found unreachable a moment ago. 0 when it has them all, -EAGAIN when more are
     * left for the next call, or a negative errno with error saying why not. NULL: the store
     * keeps no copy. */
    int (*audit_forward)(Store *s, bool now, TkError *error);
    /* Other stations write it too: cached counts are read again every few seconds. */
    bool shared;
    void (*free)(Store *s);
} StoreOps;

struct Store {
    const StoreOps *ops;
    /* What messages call the ledger: a file's path, or a database's name and host (never the
     * whole connection string, which may hold a password). */
    char *ledger_name;
    /* [Store] WhenUnreachable=: whether acts are refused while the audit trail's copy cannot be
     * written. */
    StoreUnreachable unreachable;
};

/* The store that config names; state_dir holds the file back-end's ledger. error says why
 * when it cannot be used. */
int store_open(const Config *config, const char *state_dir, Store **ret, TkError *error);
Store *store_free(Store *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Store *, store_free);

int store_file_open(const char *state_dir, Store **ret, TkError *error);
#if TOKEND_HAVE_POSTGRESQL
/* state_dir: where the file back-end kept the station's ledger, which goes into the database
 * the first time it is reached. */
int store_pg_open(const Config *config, const char *state_dir, Store **ret, TkError *error);
/* tokend --migrate: brings the database's schema up to this tokend's, as its owner. */
int store_pg_migrate(const Config *config, TkError *error);
#endif

static inline int store_ledger_get(Store *s, const char *serial, TkLedgerCount *ret)
{
    return s->ops->ledger_get(s, serial, ret);
}

static inline int store_ledger_record(Store *s, const char *serial, TkLedgerOutcome outcome)
{
    return s->ops->ledger_record(s, serial, outcome);
}

static inline int store_ledger_check(Store *s, TkError *error)
{
    return s->ops->ledger_check(s, error);
}

static inline int store_ledger_hold(Store *s, const char *serial, TkError *error)
{
    return s->ops->ledger_hold ? s->ops->ledger_hold(s, serial, error) : 0;
}

static inline void store_ledger_release(Store *s, const char *serial)
{
    if (s->ops->ledger_release)
        s->ops->ledger_release(s, serial);
}

/* Copies what the store lacks of the audit trail, as far as it can now; a store that cannot be
 * reached says so in the log (once), and the lines wait in the file for the next call. */
static inline void store_audit_forward(Store *s)
{
    TkError e = {};
    if (s && s->ops->audit_forward)
        (void)s->ops->audit_forward(s, false, &e);
}

/* Before an act: 0, or (with [Store] WhenUnreachable=refuse, while the store's copy of the trail
 * cannot be written) a negative errno with error saying why the act is refused. */
int store_audit_ready(Store *s, TkError *error);
