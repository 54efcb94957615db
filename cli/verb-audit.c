/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "audit-log.h"
#include "config.h"
#include "format.h"
#include "tokenctl.h"

/* Reads the file directly rather than asking tokend: the point of verifying is to trust
 * neither the daemon nor whoever may have edited the file. */
int verb_audit(Context *ctx)
{
    _cleanup_free_ char *hash = NULL;
    TkError error = {};
    size_t lines = 0, bad = 0;
    uint64_t seq = 0;
    int r;

    if (ctx->n_args < 1 || !streq(ctx->args[0], "verify"))
        return fail(ctx, CLI_ERROR_USAGE, "audit knows one action: tokenctl audit verify [FILE]");
    if (ctx->n_args > 2)
        return fail(ctx, CLI_ERROR_USAGE, "audit verify takes at most one FILE");
    const char *path = ctx->n_args > 1 ? ctx->args[1] : TOKEND_AUDIT_FILE;

    r = tk_audit_verify(path, &lines, &bad, &error);
    if (r == -EBADMSG)
        return fail(ctx, CLI_ERROR_AUDIT_BROKEN,
                    "The audit trail %s is damaged at line %zu: %s. Keep a copy of the file and "
                    "report it; do not edit it.",
                    path, bad, tk_error_is_set(&error) ? error.message : "the chain is broken");
    if (r < 0)
        return fail(ctx, CLI_ERROR_FAILED, "Cannot verify the audit trail %s: %s", path,
                    tk_error_is_set(&error) ? error.message : strerror(-r));
    r = tk_audit_head(path, &seq, &hash, &error);
    if (r < 0)
        return fail(ctx, CLI_ERROR_FAILED, "Cannot read the last line of %s: %s", path,
                    tk_error_is_set(&error) ? error.message : strerror(-r));

    if (ctx->json) {
        json_object *head = json_object_new_object();
        ctx->result = json_object_new_object();
        json_object_object_add(ctx->result, "file", json_object_new_string(path));
        json_object_object_add(ctx->result, "intact", json_object_new_boolean(true));
        json_object_object_add(ctx->result, "lines", json_object_new_int64((int64_t)lines));
        json_object_object_add(head, "seq", json_object_new_uint64(seq));
        json_object_object_add(head, "hash", json_object_new_string(hash));
        json_object_object_add(ctx->result, "head", head);
        return 0;
    }
    printf("%s: %zu line%s, hash chain intact.\n", path, lines, lines == 1 ? "" : "s");
    printf("Last line: seq %llu, SHA-256 %s\n", (unsigned long long)seq, hash);
    printf("(Lines cut from the end are only found by comparing this with a copy kept "
           "elsewhere.)\n");
    return 0;
}
