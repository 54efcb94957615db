/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "audit-log.h"
#include "audit-path.h"
#include "format.h"
#include "tokenctl.h"

/* The audit file could not be read: says so, with what a member of staff can do about it. */
static int fail_unreadable(Context *ctx, const char *path, int r, const TkError *error)
{
    if (r == -EACCES || r == -EPERM)
        return fail(ctx, CLI_ERROR_FAILED,
                    "Cannot read the audit trail %s: permission denied. Root and the members of "
                    "the group tokend-audit may read it; ask the administrator to add you "
                    "(usermod -aG tokend-audit USER, then log in again).",
                    path);
    if (r == -ENOENT)
        return fail(ctx, CLI_ERROR_FAILED,
                    "The audit trail %s does not exist: tokend has recorded no act there yet, or "
                    "it writes elsewhere ([Audit] File= in tokend.conf(5)).",
                    path);
    return fail(ctx, CLI_ERROR_FAILED, "Cannot read the audit trail %s: %s", path,
                tk_error_is_set(error) ? error->message : strerror(-r));
}

/* Reads the file directly rather than asking tokend: the point of verifying is to trust
 * neither the daemon nor whoever may have edited the file. */
int verb_audit(Context *ctx)
{
    TkAuditVerifyResult result = {};
    TkError error = {};
    int r;

    if (ctx->n_args < 1 || !streq(ctx->args[0], "verify"))
        return fail(ctx, CLI_ERROR_USAGE, "audit knows one action: tokenctl audit verify [FILE]");
    if (ctx->n_args > 2)
        return fail(ctx, CLI_ERROR_USAGE, "audit verify takes at most one FILE");
    if (ctx->n_args > 1 && ctx->config)
        return fail(ctx, CLI_ERROR_USAGE,
                    "audit verify takes a FILE or --config, not both: --config only says where "
                    "the audit file is");
    _cleanup_free_ char *configured = NULL;
    if (ctx->n_args < 2) {
        r = audit_configured_file(ctx, ctx->config, &configured);
        if (r != 0)
            return r;
    }
    const char *path = configured ?: ctx->args[1];

    r = tk_audit_verify(path, &result, &error);
    if (r == -EBADMSG)
        return fail(ctx, CLI_ERROR_AUDIT_BROKEN,
                    "The audit trail %s is damaged at line %zu: %s. Keep a copy of the file and "
                    "report it; do not edit it.",
                    path, result.bad_line,
                    tk_error_is_set(&error) ? error.message : "the chain is broken");
    if (r < 0)
        return fail_unreadable(ctx, path, r, &error);

    /* The head comes from the same locked read as the verification, so it is the head of the
     * lines that were verified even while tokend appends. Its seq is its line number. */
    if (ctx->json) {
        json_object *head = json_object_new_object();
        ctx->result = json_object_new_object();
        json_object_object_add(ctx->result, "file", json_object_new_string(path));
        json_object_object_add(ctx->result, "intact", json_object_new_boolean(true));
        json_object_object_add(ctx->result, "lines", json_object_new_int64((int64_t)result.lines));
        json_object_object_add(ctx->result, "interrupted",
                               json_object_new_boolean(result.interrupted));
        json_object_object_add(
            ctx->result, "partial-line-offset",
            result.interrupted ? json_object_new_uint64(result.interrupted_offset) : NULL);
        json_object_object_add(head, "seq", json_object_new_uint64(result.lines));
        json_object_object_add(head, "hash", json_object_new_string(result.head_hash));
        json_object_object_add(ctx->result, "head", head);
        return 0;
    }
    printf("%s: %zu line%s, hash chain intact.\n", path, result.lines,
           result.lines == 1 ? "" : "s");
    /* A partial last line is not an edit (see TkAuditVerifyResult), so it is no failure; but
     * nothing is appended after it, so it needs a person's attention. */
    if (result.interrupted)
        printf("The audit trail ends in a partial line at byte %llu after line %zu: the writer "
               "was interrupted (crash or full disk); this is not tampering. tokend appends "
               "nothing after it until the file is dealt with; keep a copy of it.\n",
               (unsigned long long)result.interrupted_offset, result.lines);
    printf("%s: seq %zu, SHA-256 %s\n", result.interrupted ? "Last complete line" : "Last line",
           result.lines, result.head_hash);
    printf("(Lines cut from the end are only found by comparing this with a copy kept "
           "elsewhere.)\n");
    return 0;
}
