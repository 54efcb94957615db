/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "token-error.h"

/* Where the retry ledger lives: the state directory's file (one station), or a PostgreSQL
 * database that an office's stations share. */
typedef enum StoreBackend {
    STORE_FILE,
    STORE_POSTGRESQL,
} StoreBackend;

/* What a station does with an act while its shared store cannot be reached: record it in the
 * local audit file, to be forwarded once the store is back (the default), or refuse it. Unblocks
 * that depend on the shared retry ledger are refused either way. */
typedef enum StoreUnreachable {
    STORE_RECORD_LOCALLY,
    STORE_REFUSE,
} StoreUnreachable;

/* /etc/tokend/tokend.conf as DESIGN.md gives it. Every key is optional. */
typedef struct Config {
    char **modules; /* NULL-terminated; the default module when the file names none */
    unsigned pin_min_length;
    bool pin_reject_trivial;
    bool unblock_require_request;
    char *site_key_file; /* NULL: the caller gives the SO PIN */
    char *audit_file;
    StoreBackend store_backend;
    char *store_connection; /* a libpq connection string; NULL: libpq's defaults */
    char *store_station;    /* the station's name in the records; NULL: the machine id */
    StoreUnreachable store_unreachable;
} Config;

/* Fills c with the defaults. */
int config_init(Config *c);
void config_done(Config *c);

/* Reads path over the defaults. A missing file is fine when missing_ok (the stock
 * configuration file need not exist); an unknown section or key or a bad value fails with
 * -EINVAL and a message naming the file, line and key in error. */
int config_load(Config *c, const char *path, bool missing_ok, TkError *error);
/* The same for a file that is already open; path names it in messages. */
int config_load_file(Config *c, FILE *f, const char *path, TkError *error);
