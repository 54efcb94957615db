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
    /* An outcome's link to its act's intent record: that record's seq (written as the field
     * intent). 0, written as null, on an intent and on any record of no act's. Lines of older
     * trails have no such field and read as 0. */
    uint64_t intent;
} TkAuditRecord;

/* The operation and result of the record that seals a cut-off line (see tk_audit_append()),
 * which only the writer makes: a caller's record of that operation is refused. */
#define TK_AUDIT_RECOVERY        "recovery"
#define TK_AUDIT_RECOVERY_RESULT "sealed"

/* The operation of the record tokend writes when it starts, after it has given the acts its
 * previous run left without an outcome theirs (result TK_AUDIT_INTERRUPTED): a reader that looks
 * for such acts need look no further back than the last one. Neither it nor a recovery record is
 * an act. */
#define TK_AUDIT_START       "start"
#define TK_AUDIT_INTERRUPTED "interrupted"

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
 * first record, then +1), time (ISO 8601 UTC), time_usec, operation, serial, uid, pid, request,
 * result, error, intent, prev. prev is the hex SHA-256 of the previous record's line without its
 * newline; for the first record it is the SHA-256 of zero bytes. Holds an exclusive flock() while
 * it reads the end of the file and writes, and fsync()s before returning; *ret_seq (if not NULL)
 * is then the new record's seq, for a caller to link a later record to this one.
 *
 * A file that ends in a partial line (a crash, a power loss, a writer that could not undo its
 * write) is sealed first: the line gets its newline, and a recovery record (operation
 * TK_AUDIT_RECOVERY, result TK_AUDIT_RECOVERY_RESULT, fields fragment_offset, fragment_length and
 * fragment_sha256 saying where the cut-off line begins, how long it is and its SHA-256) follows
 * it, chained to the last record before it; then the new record. A partial line that is a whole
 * record continuing the chain, short of its newline only, just gets its newline.
 *
 * A write or fsync that fails (ENOSPC, EIO, EFBIG) is undone: the file is cut back to its size
 * before the append, so that no partial line of this writer's stays, and the error names the
 * file and the cause. Nothing is written, and the chain is left as it was, when the line would be
 * longer than TK_AUDIT_LINE_MAX (-E2BIG, the message names the longest field), when the file is a
 * symbolic link (-ELOOP) or not a regular file (-EBADFD), when its last complete line is not a
 * valid record or its partial line is longer than TK_AUDIT_LINE_MAX (-EBADMSG: damage, not an
 * interruption), and when the last seq is the largest a line may carry (-EOVERFLOW). */
int tk_audit_append(const char *path, const TkAuditRecord *r, uint64_t *ret_seq, TkError *error);

/* Whether tk_audit_append() could append a line now, for a caller to ask before it does the act
 * the line records: the file opens for appending (it is created when missing, as
 * tk_audit_append() creates it; its directory must exist), its last line is complete and a valid
 * record (or the file is empty; a partial line after it is no obstacle, since the append seals
 * it), and its file system has at least min_free_bytes available to
 * tokend. Returns 0, or a negative errno with a message naming the file and what is wrong: -EACCES,
 * -EROFS, -ENOENT, -ELOOP (a symbolic link), -EBADFD (not a regular file) and the like when it
 * cannot be written, -EBADMSG for a damaged last line, -EOVERFLOW when the largest seq is reached,
 * -ENOSPC for too little space. */
int tk_audit_check_appendable(const char *path, uint64_t min_free_bytes, TkError *error);

/* A line cut short by an interrupted write. */
typedef struct TkAuditInterruption {
    size_t line;     /* its 1-based line number in the file */
    uint64_t offset; /* the byte offset where it begins */
    size_t length;   /* its bytes, without the newline that sealed it */
    bool sealed;     /* a recovery record follows it; false: it is the file's partial last line */
} TkAuditInterruption;

/* How many interruptions a TkAuditVerifyResult lists (all are counted). */
#define TK_AUDIT_INTERRUPTIONS_LISTED 16

/* What tk_audit_verify() found. */
typedef struct TkAuditVerifyResult {
    /* Records that verified: all of them when the chain is intact, those before bad_line when
     * it is not. Each record is one line; a sealed interruption is one line more. */
    size_t lines;
    /* The 1-based line found bad, 0 when the chain is intact. */
    size_t bad_line;
    /* The file ends, after `lines` good lines, in a partial line (no newline, at most
     * TK_AUDIT_LINE_MAX bytes): a write that was cut short by a crash or a full disk, not an
     * edit. interrupted_offset is the byte offset where that partial line starts. */
    bool interrupted;
    uint64_t interrupted_offset;
    /* Every interruption found, sealed ones and the partial last line: how many, and the first
     * TK_AUDIT_INTERRUPTIONS_LISTED of them in file order. */
    size_t n_interruptions;
    TkAuditInterruption interruptions[TK_AUDIT_INTERRUPTIONS_LISTED];
    /* Hex SHA-256 of the line of record `lines` (the SHA-256 of zero bytes when there is none):
     * the head of the verified chain, whose seq is `lines`. Empty when the chain is broken. */
    char head_hash[TK_AUDIT_HASH_HEX_LEN + 1];
} TkAuditVerifyResult;

/* Verifies the whole chain, reading the file in lines of at most TK_AUDIT_LINE_MAX bytes.
 * Returns 0 when it is intact (a partial last line included: see TkAuditVerifyResult), or
 * -EBADMSG with result->bad_line set and error saying why; *result (if not NULL) is filled in
 * for both and left alone for any other error. Every line must be one JSON object with every
 * field of its type, seq one more than the record before's, prev 64 lowercase hex equal to the
 * hash of the record before's line, intent (where present) null or the seq of an earlier record.
 * The one line that may be no record is a sealed interruption: a line immediately followed by a
 * recovery record whose fragment_offset, fragment_length and fragment_sha256 are that line's; it
 * is counted in n_interruptions, not reported as damage. An edited, deleted, reordered or
 * inserted line is found, a sealed line or its recovery record edited included; removing lines
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
 * built on it): bounded lines, every field of its type, seq one more than the record before's,
 * and the link to it. A sealed interruption is passed over; its recovery record is returned. */
typedef struct TkAuditReader TkAuditReader;

/* Opens the file for reading and takes a shared lock on it, held until the reader is freed:
 * a writer waits meanwhile, so free it before anything slow. */
int tk_audit_reader_open(const char *path, TkAuditReader **ret, TkError *error);

/* The same reader on a trail held in memory: len bytes at data, the lines of a file as it would
 * hold them (each with its newline, a partial last line without), which must stay as they are
 * until the reader is freed. Every check, result and message is the file's; there is no lock,
 * and name (such as "station counter-1's trail in the database tokend on db1") stands for the
 * file's path in the messages. */
int tk_audit_reader_open_memory(const char *name, const void *data, size_t len, TkAuditReader **ret,
                                TkError *error);

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

/* The seq and hex hash of the last record (0 and the genesis hash for an empty file), for an
 * operator to record elsewhere and compare later; a partial line after it is not looked at, as
 * tk_audit_verify() gives its head. *ret_hash_hex is to be free()d. A last complete line that is
 * too long or not a valid record, and a partial line longer than TK_AUDIT_LINE_MAX, are
 * -EBADMSG. */
int tk_audit_head(const char *path, uint64_t *ret_seq, char **ret_hash_hex, TkError *error);

/* One complete line of the file, without its newline, and the offset where it begins. A
 * non-zero return stops the reading; a negative one is returned by tk_audit_read_lines(). */
typedef int (*TkAuditLineFn)(const char *line, size_t len, uint64_t offset, void *userdata);

/* Gives fn the file's complete lines, as bytes and unchecked, from byte offset on (the start of
 * a line), at most max_lines of them, under a shared lock: a line that has no newline yet is not
 * given. Returns how many were given, or a negative errno with error saying why (-EBADMSG for a
 * line longer than TK_AUDIT_LINE_MAX). For copying the trail elsewhere line by line. */
int tk_audit_read_lines(const char *path, uint64_t offset, size_t max_lines, TkAuditLineFn fn,
                        void *userdata, TkError *error);
