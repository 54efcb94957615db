/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The office's audit trail in its database (docs/office.md): every line of every station's
 * audit file in table audit_lines, read back station by station as the station's file, for
 * tokenctl audit verify --database and audit list --database to check with the file's own
 * reader. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "tokenctl.h"

/* Why a station's lines cannot be its file, found before its bytes are read. */
typedef enum AuditStationGap {
    AUDIT_STATION_WHOLE,
    AUDIT_STATION_MISSING_LINE, /* bad_line is not in the database, nor any line after it */
    AUDIT_STATION_NEWLINE,      /* bad_line holds a newline byte, which no line of a file does */
} AuditStationGap;

/* One station's lines, read in line_no order. */
typedef struct AuditStation {
    char *name;           /* the station's name in the database */
    const char *database; /* the database as messages name it (see audit_db_read()) */
    /* The lines before bad_line (all of them when there is none), each with its newline: the
     * station's file as far as the database gives it. A line longer than TK_AUDIT_LINE_MAX is
     * kept only as far as the reader needs to refuse it. */
    char *data;
    size_t len;
    size_t allocated;
    uint64_t rows; /* the station's lines in the database */
    AuditStationGap gap;
    uint64_t bad_line; /* with gap: the 1-based line */
    char **written_by; /* the roles that inserted the station's lines, each once, by name */
} AuditStation;

/* Called for each station, in the order of their names, once its lines are read. A return other
 * than 0 (fail()'s exit code) stops the reading. */
typedef int (*AuditStationFn)(Context *ctx, const AuditStation *station, void *userdata);

/* Reads the lines of every station (station: of that one alone) from the database that the
 * libpq connection string conninfo names, in line_no order, as their roles may: SELECT on
 * audit_lines (tokend_auditor). *ret_name (to be freed) is the database as messages name it,
 * "database DBNAME on HOST" in the user's language, never more of the string, which may hold a
 * password: it is set as soon as the string is parsed, before any station is read. Returns 0, or
 * the exit code of the failure, recorded in ctx: a string libpq cannot parse is a usage error; a
 * database that cannot be reached or read, and a tokenctl built without PostgreSQL, EXIT_FAILED. */
int audit_db_read(Context *ctx, const char *conninfo, const char *station, char **ret_name,
                  AuditStationFn fn, void *userdata);
