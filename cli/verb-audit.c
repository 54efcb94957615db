/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>

#include "config.h"
#include "format.h"
#include "tokenctl.h"

#if HAVE_AUDIT_LOG
#include "audit-log.h"
#endif

int verb_audit(Context *ctx)
{
    if (ctx->n_args < 1 || !streq(ctx->args[0], "verify"))
        return fail(ctx, CLI_ERROR_USAGE, "audit knows one action: tokenctl audit verify [FILE]");
    if (ctx->n_args > 2)
        return fail(ctx, CLI_ERROR_USAGE, "audit verify takes at most one FILE");
    const char *path = ctx->n_args > 1 ? ctx->args[1] : TOKEND_AUDIT_FILE;

#if HAVE_AUDIT_LOG
#include "verb-audit-verify.inc"
#else
    return fail(ctx, CLI_ERROR_FAILED,
                "This build of tokenctl cannot verify audit files (%s); it was built without "
                "the audit-chain code.",
                path);
#endif
}
