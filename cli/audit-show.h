/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What tokenctl audit shows of a trail, a file's (verb-audit.c) and the office's database's
 * (verb-audit-db.c) alike: the rows and JSON of its acts, and its interrupted writes. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "audit-acts.h"
#include "audit-log.h"
#include "table.h"
#include "tokenctl.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(Table *, table_free)

/* User names by uid, looked up once each. */
typedef struct UserName {
    uint32_t uid;
    char *name; /* NULL: the uid has none */
} UserName;

typedef struct UserNames {
    UserName *names;
    size_t n;
} UserNames;

void user_names_done(UserNames *u);

/* The cells of an act's row: when (local time), who, how it ended. */
void act_cells(UserNames *u, const AuditAct *a, char when[static 32], char person[static 128],
               char outcome[static 128], const char **color);

/* The row's cells from USER on. */
int add_act_cells(Table *table, const AuditAct *a, const char *person, const char *outcome,
                  const char *color);

/* Adds key to o: value as a string, or null when value is NULL. */
void add_json_string(json_object *o, const char *key, const char *value);

json_object *act_json(UserNames *u, const AuditAct *a);

/* The interrupted writes of result, as many as are listed, for --json. */
json_object *interruptions_json(const TkAuditVerifyResult *result);

/* Prints the interrupted writes of an intact trail, and its partial last line. */
void print_interruptions(const TkAuditVerifyResult *result);
