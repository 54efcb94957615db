/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "audit.h"
#include "macro.h"

static const struct {
    const char *operation;
    const char *message_id;
    const char *verb; /* for the journal's MESSAGE */
} operations[] = {
    {"generate-key", "bfee0245518d4924bb4e698c7312cd2b", "key generation"},
    {"create-request", "b5e7f42e69044626a1b8da25e0de7dc3", "certificate request"},
    {"import-certificate", "d2680dc7db9c4469adb9f94ab89bd573", "certificate import"},
    {"change-pin", "8cca01deed014dc3a1908e05cdd3213b", "PIN change"},
    {"unblock-pin", "4e5da7636a214470b985c28241570f8f", "PIN unblock"},
    {"initialize", "b6adccc15dbe4d1c86e47ba00614c140", "token initialisation"},
    {"delete-object", "49d3e48a74e64fb8a883094874e12fda", "object deletion"},
};

static int lookup(const char *operation)
{
    for (size_t i = 0; operation && i < ELEMENTSOF(operations); i++)
        if (streq(operations[i].operation, operation))
            return (int)i;
    return -1;
}

const char *audit_message_id(const char *operation)
{
    int i = lookup(operation);
    return i < 0 ? NULL : operations[i].message_id;
}

int audit_check_writable(const char *path, TkError *error)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return tk_error_set(error, -errno, TK_ERROR_FAILED,
                            "The audit trail %s cannot be written (%s), so nothing is done to "
                            "the token. Ask the administrator to check the Audit File setting.",
                            path, strerror(errno));
    close(fd);
    return 0;
}

int audit_record(const char *path, const TkAuditRecord *r, TkError *error)
{
    int i = lookup(r->operation);
    if (i < 0)
        return tk_error_set(error, -EINVAL, TK_ERROR_FAILED,
                            "Unknown operation '%s' for the audit trail.", strempty(r->operation));

    /* journald may be absent (containers, tests); the file is the record that must exist. */
    (void)sd_journal_send("MESSAGE_ID=%s", operations[i].message_id, "MESSAGE=Token %s %s: %s%s%s",
                          strempty(r->serial), operations[i].verb, strempty(r->result),
                          r->error ? " " : "", strempty(r->error), "PRIORITY=%i",
                          streq_ptr(r->result, "ok") ? LOG_INFO : LOG_NOTICE, "TOKEND_OPERATION=%s",
                          r->operation, "TOKEND_TOKEN_SERIAL=%s", strempty(r->serial),
                          "TOKEND_CALLER_UID=%" PRIu32, r->uid, "TOKEND_CALLER_PID=%" PRIu32,
                          r->pid, "TOKEND_REQUEST=%s", strempty(r->request), "TOKEND_RESULT=%s",
                          strempty(r->result), "TOKEND_ERROR=%s", strempty(r->error), NULL);

    TkError e = {};
    int ret = tk_audit_append(path, r, NULL, &e);
    if (ret < 0)
        return tk_error_set(error, ret, TK_ERROR_FAILED,
                            "The act could not be written to the audit trail: %s", e.message);
    return 0;
}
