/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "audit-log.h"
#include "operations.h"
#include "token-error.h"

/* The audit trail of every act on a token: a chained line in the audit file
 * (libtoken/shared/audit-log.h) before the token is touched (result "intent") and after it
 * (ok, failed, refused), and a journal entry with the row's MESSAGE_ID and TOKEND_* fields for
 * each outcome. Never given a PIN, PUK or key. */

/* The journal MESSAGE_ID (32 hex digits) of an operation name; NULL for one that is not
 * recorded. */
const char *audit_message_id(const char *operation);

/* Writes the intent record: fails (and nothing may be done to the token) when the file
 * cannot take a line now. *ret_seq (if not NULL) is its seq, for the outcome's intent field. */
int audit_intent(const char *path, const Operation *op, const TkAuditRecord *record,
                 uint64_t *ret_seq, TkError *error);

/* At start-up: gives each act that the previous run left with an intent and no outcome the
 * outcome "interrupted" (error "TokendStopped", linked to its intent), then writes a start record.
 * The trail is read forwards once; only the acts since the last start record are looked at, and
 * only those still waiting are kept. Returns the number of acts so ended, or a negative errno
 * with error saying why (a missing file is no error: there is nothing to end). ended(), when not
 * NULL, is told each act so ended (operation and serial), once its outcome is written. */
int audit_start(const char *path,
                void (*ended)(const char *operation, const char *serial, void *userdata),
                void *userdata, TkError *error);

/* Writes the outcome: the journal entry (best effort: journald may be absent) and the line in
 * the audit file, fsync'd. Fails when the line could not be written. */
int audit_record(const char *path, const Operation *op, const TkAuditRecord *record,
                 TkError *error);
