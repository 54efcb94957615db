/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "audit-log.h"
#include "token-error.h"

/* The audit trail of every act on a token, allowed or refused: a journal entry with a fixed
 * MESSAGE_ID per operation and TOKEND_* fields, and a chained line in the audit file
 * (libtoken/audit-log.h). Never given a PIN, PUK or key. */

/* The journal MESSAGE_ID (32 hex digits) of an operation; NULL for an unknown one. */
const char *audit_message_id(const char *operation);

/* Writes the journal entry (best effort: journald may be absent) and appends the line to the
 * audit file, fsync'd. Fails when the line could not be written, so that the caller can fail
 * the call rather than act without a trace. */
int audit_record(const char *path, const TkAuditRecord *record, TkError *error);

/* Whether a line could be appended now: the file opens for appending (created 0600 when
 * missing, in a directory that exists). Checked before a token is touched. */
int audit_check_writable(const char *path, TkError *error);
