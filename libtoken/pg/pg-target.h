/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The office's database as a program names it and connects to it. A connection string may hold
 * a password: it is parsed by libpq, and only its dbname and host ever reach a message. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "macro.h"
#include "token-error.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(PGresult *, PQclear);
DEFINE_TRIVIAL_CLEANUP_FUNC(PGconn *, PQfinish);

/* A parsed connection string, with defaults added where it has none (connect_timeout, so that an
 * unreachable database costs seconds and not minutes; application_name). name is what messages
 * call the database: "database DBNAME on HOST", its dbname and host as given, nothing else;
 * dbname and host are those two alone (NULL where the string gives none), for a program that
 * words its messages itself. */
typedef struct PgTarget {
    char **keywords;
    char **values;
    char *name;
    char *dbname;
    char *host;
} PgTarget;

/* Parses conninfo ("" for libpq's defaults and PG* environment). setting names where the string
 * came from in the message for one that libpq cannot parse (whose reason is not passed on: it
 * may quote a piece of the string, a password for all we know): -EINVAL. */
int pg_target_parse_as(const char *conninfo, const char *setting, const char *application_name,
                       PgTarget *ret, TkError *error);
/* Wipes the values (a password among them, maybe) and frees them. */
void pg_target_done(PgTarget *t);

/* Connects: 0 and the connection, or -ENOMEM, or -ECONNREFUSED with libpq's reason in why (as
 * pg_message() gives it). */
int pg_target_connect(const PgTarget *t, PGconn **ret, bool first_line, char *why, size_t why_size);

/* libpq's message m (NULL or empty: "no reason given") in buf as one line: its line breaks and
 * indents become single spaces and the trailing newline goes; with first_line, only what comes
 * before its first line break. */
void pg_message(const char *m, bool first_line, char *buf, size_t size);
