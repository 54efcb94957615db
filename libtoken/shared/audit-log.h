/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "token-error.h"

/* One audited operation. Strings may be NULL (written as JSON null) except operation and
 * result. Never put a PIN, PUK or key in here. */
typedef struct TkAuditRecord {
    uint64_t time_usec;
    const char *operation;
    const char *serial;
    uint32_t uid;
    uint32_t pid;
    const char *request;
    const char *result;
    const char *error;
} TkAuditRecord;

/* SHA-256 in hex is 64 characters. */
#define TK_AUDIT_HASH_HEX_LEN 64

/* The longest line (in bytes, without its newline) that is written or accepted. A record is a
 * few hundred bytes; the bound lets every reader work in a fixed buffer, and is checked by the
 * writer so that no caller's record can make a line the readers refuse. */
#define TK_AUDIT_LINE_MAX 4096

/* The mode of a new audit file, whatever the umask: readable by its group, which is the group
 * of its directory where that directory is set-group-ID (the shipped /var/log/tokend is
 * tokend-audit's), so that staff can read the trail without being root. The mode of an existing
 * file is left as it is. */
#define TK_AUDIT_FILE_MODE 0640

/* How long every call here waits for a lock on the file that another process holds, before it
 * gives up with -EBUSY and a message saying so. */
#define TK_AUDIT_LOCK_WAIT_MSEC 5000

/* Appends one JSON line to the audit file (created with TK_AUDIT_FILE_MODE): fields seq (1 for the
 * first line, then +1), time (ISO 8601 UTC), time_usec, operation, serial, uid, pid, request,
 * result, error, prev. prev is the hex SHA-256 of the previous line's bytes without its newline;
 * for the first line it is the SHA-256 of zero bytes. Holds an exclusive flock() while it reads the
 * last line and writes, and fsync()s before returning; *ret_seq (if not NULL) is then the new
 * line's seq, for a caller to link a later record to this one.
 *
 * Nothing is written, and the chain is left as it was, when the line would be longer than
 * TK_AUDIT_LINE_MAX (-E2BIG, the message names the longest field), when the file is a symbolic
 * link (-ELOOP) or not a regular file (-EBADFD), when its last line is cut short or is not a
 * valid record (-EBADMSG) rather than chained onto, and when the last seq is the largest a line
 * may carry (-EOVERFLOW). */
int tk_audit_append(const char *path, const TkAuditRecord *r, uint64_t *ret_seq, TkError *error);

/* Whether tk_audit_append() could append a line now, for a caller to ask before it does the act
 * the line records: the file opens for appending (it is created when missing, as
 * tk_audit_append() creates it; its directory must exist), its last line is complete and a valid
 * record (or the file is empty), and its file system has at least min_free_bytes available to
 * tokend. Returns 0, or a negative errno with a message naming the file and what is wrong: -EACCES,
 * -EROFS, -ENOENT, -ELOOP (a symbolic link), -EBADFD (not a regular file) and the like when it
 * cannot be written, -EBADMSG for a damaged last line, -EOVERFLOW when the largest seq is reached,
 * -ENOSPC for too little space. */
int tk_audit_check_appendable(const char *path, uint64_t min_free_bytes, TkError *error);

/* What tk_audit_verify() found. */
typedef struct TkAuditVerifyResult {
    /* Complete lines that verified: all of them when the chain is intact, those before bad_line
     * when it is not. */
    size_t lines;
    /* The 1-based line found bad, 0 when the chain is intact. */
    size_t bad_line;
    /* The file ends, after `lines` good lines, in a partial line (no newline, at most
     * TK_AUDIT_LINE_MAX bytes): a write that was cut short by a crash or a full disk, not an
     * edit. interrupted_offset is the byte offset where that partial line starts. */
    bool interrupted;
    uint64_t interrupted_offset;
    /* Hex SHA-256 of line `lines` (the SHA-256 of zero bytes when there is none): the head of
     * the verified chain, whose seq is `lines`. Empty when the chain is broken. */
    char head_hash[TK_AUDIT_HASH_HEX_LEN + 1];
} TkAuditVerifyResult;

/* Verifies the whole chain, reading the file in lines of at most TK_AUDIT_LINE_MAX bytes.
 * Returns 0 when it is intact (a partial last line included: see TkAuditVerifyResult), or
 * -EBADMSG with result->bad_line set and error saying why; *result (if not NULL) is filled in
 * for both and left alone for any other error. Every line must be one JSON object with every
 * field of its type, seq equal to its line number, prev 64 lowercase hex equal to the hash of
 * the line before. An edited, deleted, reordered or inserted line is found; removing lines
 * from the end is not, which is what the head hash is for. */
int tk_audit_verify(const char *path, TkAuditVerifyResult *result, TkError *error);

/* One record read back from the audit file: its line's seq, its time as written (ISO 8601 UTC)
 * and its fields. The strings are the reader's, valid until its next call. */
typedef struct TkAuditEntry {
    uint64_t seq;
    const char *time;
    TkAuditRecord record;
} TkAuditEntry;

/* Reads the trail record by record, checking each line as tk_audit_verify() does (which is
 * built on it): bounded lines, every field of its type, seq equal to the line number, and the
 * link to the line before. */
typedef struct TkAuditReader TkAuditReader;

/* Opens the file for reading and takes a shared lock on it, held until the reader is freed:
 * a writer waits meanwhile, so free it before anything slow. */
int tk_audit_reader_open(const char *path, TkAuditReader **ret, TkError *error);

/* Returns 1 with the next record in *ret; 0 at the end of the file, a partial last line
 * included (see tk_audit_reader_result()); -EBADMSG when a line breaks the chain, with error
 * saying why (and every later call the same); another negative errno when reading fails.
 * A record is returned before the line after it is read, and a changed line is found by the
 * line after it: a caller that must show only verified records holds them until the end. */
int tk_audit_reader_next(TkAuditReader *reader, TkAuditEntry *ret, TkError *error);

/* What tk_audit_verify() would say, once tk_audit_reader_next() has returned 0 or -EBADMSG. */
void tk_audit_reader_result(const TkAuditReader *reader, TkAuditVerifyResult *ret);

TkAuditReader *tk_audit_reader_free(TkAuditReader *reader);
DEFINE_TRIVIAL_CLEANUP_FUNC(TkAuditReader *, tk_audit_reader_free)

/* The seq and hex hash of the last line (0 and the genesis hash for an empty file), for an
 * operator to record elsewhere and compare later. *ret_hash_hex is to be free()d. A last line
 * that is cut short, too long or not a valid record is -EBADMSG. */
int tk_audit_head(const char *path, uint64_t *ret_seq, char **ret_hash_hex, TkError *error);
