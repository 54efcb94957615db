/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "audit-acts.h"
#include "audit.h"
#include "macro.h"
#include "time-util.h"

const char *audit_message_id(const char *operation)
{
    const Operation *op = operation_find_recorded(operation);
    return op ? op->message_id : NULL;
}

/* An act's record could not be written: says so, and what follows from it. */
static int unwritten(int err, const char *consequence, const TkError *why, TkError *error)
{
    return tk_error_set(error, err, TK_ERROR_FAILED,
                        "The audit trail cannot take the record of this act%s: %s Ask the "
                        "administrator to check it.",
                        consequence, why->message);
}

static int not_recorded(const Operation *op, TkError *error)
{
    return tk_error_set(error, -EINVAL, TK_ERROR_FAILED,
                        "%s is not an operation of the audit trail.", op->name);
}

/* Room for the intent, its outcome and more: a trail must never be cut off by the act it
 * records. */
#define AUDIT_MIN_FREE_BYTES (64u * 1024)

int audit_intent(const char *path, const Operation *op, const TkAuditRecord *r, uint64_t *ret_seq,
                 TkError *error)
{
    static const char *const untouched = ", so nothing is done to the token";
    TkAuditRecord intent = *r;
    TkError e = {};

    if (!op->message_id)
        return not_recorded(op, error);
    intent.result = "intent";
    intent.error = NULL;
    intent.intent = 0;
    int ret = tk_audit_check_appendable(path, AUDIT_MIN_FREE_BYTES, &e);
    if (ret >= 0)
        ret = tk_audit_append(path, &intent, ret_seq, &e);
    return ret < 0 ? unwritten(ret, untouched, &e, error) : 0;
}

/* The acts since the last start record that have an intent and no outcome. */
static int read_waiting_acts(const char *path, AuditActs *acts, TkError *error)
{
    _cleanup_(tk_audit_reader_freep) TkAuditReader *reader = NULL;
    TkAuditEntry entry;

    int r = tk_audit_reader_open(path, &reader, error);
    if (r < 0)
        return r;
    while ((r = tk_audit_reader_next(reader, &entry, error)) > 0) {
        /* What came before was ended by the run that wrote it. */
        if (streq_ptr(entry.record.operation, TK_AUDIT_START))
            audit_acts_done(acts);
        else if (audit_acts_add(acts, &entry) < 0)
            return -ENOMEM;
    }
    return r;
}

int audit_start(const char *path,
                void (*ended)(const char *operation, const char *serial, void *userdata),
                void *userdata, TkError *error)
{
    _cleanup_(audit_acts_done) AuditActs acts = {.waiting_only = true};
    int r = read_waiting_acts(path, &acts, error);
    if (r < 0 && r != -ENOENT)
        return r;

    /* The reader's lock is gone: the appends do not wait for it. */
    for (size_t i = 0; i < acts.n_acts; i++) {
        const AuditAct *a = &acts.acts[i];
        const TkAuditRecord outcome = {
            .time_usec = tk_now_usec(CLOCK_REALTIME),
            .operation = a->operation,
            .serial = a->serial,
            .uid = a->uid,
            .pid = a->pid,
            .request = a->request,
            .result = TK_AUDIT_INTERRUPTED,
            .error = "TokendStopped",
            .intent = a->intent_seq,
        };
        r = tk_audit_append(path, &outcome, NULL, error);
        if (r < 0)
            return r;
        if (ended)
            ended(a->operation, a->serial, userdata);
    }
    const TkAuditRecord start = {
        .time_usec = tk_now_usec(CLOCK_REALTIME),
        .operation = TK_AUDIT_START,
        .uid = (uint32_t)getuid(),
        .pid = (uint32_t)getpid(),
        .result = "ok",
    };
    r = tk_audit_append(path, &start, NULL, error);
    return r < 0 ? r : (int)acts.n_acts;
}

int audit_record(const char *path, const Operation *op, const TkAuditRecord *r, TkError *error)
{
    TkError e = {};

    if (!op->message_id)
        return not_recorded(op, error);

    /* journald may be absent (containers, tests); the file is the record that must exist. */
    (void)sd_journal_send(
        "MESSAGE_ID=%s", op->message_id, "MESSAGE=Token %s %s: %s%s%s", strempty(r->serial),
        op->verb, strempty(r->result), r->error ? " " : "", strempty(r->error), "PRIORITY=%i",
        streq_ptr(r->result, "ok") ? LOG_INFO : LOG_NOTICE, "TOKEND_OPERATION=%s", r->operation,
        "TOKEND_TOKEN_SERIAL=%s", strempty(r->serial), "TOKEND_CALLER_UID=%" PRIu32, r->uid,
        "TOKEND_CALLER_PID=%" PRIu32, r->pid, "TOKEND_REQUEST=%s", strempty(r->request),
        "TOKEND_RESULT=%s", strempty(r->result), "TOKEND_ERROR=%s", strempty(r->error), NULL);
    int ret = tk_audit_append(path, r, NULL, &e);
    return ret < 0 ? unwritten(ret, "", &e, error) : 0;
}
