/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tokenctl audit verify and audit list of the office's trail in its database (--database
 * CONNINFO [--station NAME], audit-db.h), for verb_audit() to call. */
#pragma once

#include "audit-acts.h"
#include "tokenctl.h"

/* audit verify --database. Returns 0, or the exit code of the failure, recorded in ctx. */
int audit_verify_database(Context *ctx);

/* audit list --database: the acts that filter lets through. Returns as audit_verify_database(). */
int audit_list_database(Context *ctx, const AuditFilter *filter);
