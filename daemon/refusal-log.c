/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "refusal-log.h"
#include "text-escape.h"

static RefusalWindow *window_of(RefusalLog *l, uid_t uid)
{
    RefusalWindow *oldest = &l->callers[0];
    for (size_t i = 0; i < REFUSAL_LOG_CALLERS; i++) {
        RefusalWindow *w = &l->callers[i];
        if (w->used && w->uid == uid)
            return w;
        if (!w->used || (oldest->used && w->start_usec < oldest->start_usec))
            oldest = w;
    }
    /* A caller made to make way loses the count of its left-out lines: the window is long
     * gone by then, or 32 other uids are refused at once. */
    *oldest = (RefusalWindow){.uid = uid, .used = true};
    return oldest;
}

bool refusal_log_admit(RefusalLog *l, uid_t uid, uint64_t now_usec, unsigned *ret_left_out)
{
    RefusalWindow *w = window_of(l, uid);
    *ret_left_out = 0;
    if (w->logged == 0 || now_usec >= w->start_usec + REFUSAL_LOG_WINDOW_USEC) {
        *ret_left_out = w->left_out;
        w->start_usec = now_usec;
        w->logged = 0;
        w->left_out = 0;
    }
    if (w->logged >= REFUSAL_LOG_BURST) {
        w->left_out++;
        return false;
    }
    w->logged++;
    return true;
}

/* The name in the pattern tokend's messages name options in, option "NAME"; NULL without. */
static char *option_named(const char *message)
{
    const char *p = strstr(message, "ption \"");
    if (!p)
        return NULL;
    p += strlen("ption \"");
    const char *end = strchr(p, '"');
    return end ? strndup(p, (size_t)(end - p)) : NULL;
}

void refusal_log(RefusalLog *l, uint64_t now_usec, const char *member, const Operation *op,
                 uid_t uid, pid_t pid, const TkError *e)
{
    unsigned left_out;
    if (!refusal_log_admit(l, uid, now_usec, &left_out))
        return;
    if (left_out > 0)
        log_notice("%u more calls of uid %" PRIu32 " were refused in %llu s and not logged",
                   left_out, (uint32_t)uid, REFUSAL_LOG_WINDOW_USEC / 1000000ull);

    /* The message may quote what the caller sent (an unknown option's name, a part of a
     * subject): never a secret, but a newline or an escape would forge a line of its own. */
    _cleanup_free_ char *reason = NULL, *method = NULL, *option = option_named(e->message);
    if (tk_escape_for_terminal(e->message, &reason) < 0 ||
        tk_escape_for_terminal(strempty(member), &method) < 0)
        return;
    const char *operation = op ? op->name : method;
    _cleanup_free_ char *f_op = NULL, *f_uid = NULL, *f_pid = NULL, *f_error = NULL,
                        *f_reason = NULL, *f_option = NULL;
    if (asprintf(&f_op, "TOKEND_OPERATION=%s", operation) < 0 ||
        asprintf(&f_uid, "TOKEND_CALLER_UID=%" PRIu32, (uint32_t)uid) < 0 ||
        asprintf(&f_pid, "TOKEND_CALLER_PID=%" PRIu32, (uint32_t)pid) < 0 ||
        asprintf(&f_error, "TOKEND_ERROR=%s", tk_error_short_name(e->name)) < 0 ||
        asprintf(&f_reason, "TOKEND_REASON=%s", reason) < 0 ||
        (option && asprintf(&f_option, "TOKEND_OPTION=%s", option) < 0))
        return;
    char *fields[] = {"MESSAGE_ID=" REFUSAL_MESSAGE_ID,
                      "TOKEND_RESULT=refused",
                      f_op,
                      f_uid,
                      f_pid,
                      f_error,
                      f_reason,
                      f_option,
                      NULL};
    log_with_fields(LOG_NOTICE, fields, __FILE__, __LINE__, __func__,
                    "Refused %s from uid %" PRIu32 " (pid %" PRIu32 ") before authorisation: %s",
                    method, (uint32_t)uid, (uint32_t)pid, reason);
}
