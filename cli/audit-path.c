/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* [Audit] File= of tokend's configuration, read with inih as tokend reads it. */
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <string.h>

#include "audit-path.h"
#include "config.h"
#include "format.h"

typedef struct AuditFileKey {
    char *file;
    int error; /* -EINVAL: a File= that is no absolute path, which tokend refuses too */
} AuditFileKey;

static int handle(void *userdata, const char *section, const char *key, const char *value)
{
    AuditFileKey *k = userdata;

    if (!key || !streq(section, "Audit") || !streq(key, "File"))
        return 1;
    if (value[0] != '/') {
        k->error = k->error ?: -EINVAL;
        return 0;
    }
    /* The last one counts, as in tokend. */
    char *copy = strdup(value);
    if (!copy) {
        k->error = -ENOMEM;
        return 0;
    }
    free(k->file);
    k->file = copy;
    return 1;
}

int audit_configured_file(Context *ctx, const char *config, char **ret)
{
    const char *path = config ?: TOKEND_CONFIG_FILE;
    AuditFileKey k = {};

    FILE *f = fopen(path, "re");
    if (!f && errno == ENOENT && !config)
        return (*ret = strdup(TOKEND_AUDIT_FILE))
                   ? 0
                   : fail_errno(ctx, -ENOMEM, "Cannot find the audit file");
    if (!f)
        return fail(ctx, CLI_ERROR_FAILED,
                    "Cannot read tokend's configuration %s to find the audit file: %s. Name the "
                    "audit file on the command line instead.",
                    path, strerror(errno));
    int line = ini_parse_file(f, handle, &k);
    fclose(f);

    _cleanup_free_ char *file = k.file;
    if (k.error == -ENOMEM || line == -2)
        return fail_errno(ctx, -ENOMEM, "Cannot read %s", path);
    if (k.error == -EINVAL)
        return fail(ctx, CLI_ERROR_FAILED,
                    "%s:%d: [Audit] File= is not an absolute path; tokend does not start with it "
                    "either.",
                    path, line);
    if (line != 0)
        return fail(ctx, CLI_ERROR_FAILED,
                    "%s:%d: syntax error (expected [Section] or Key=value); tokend does not start "
                    "with it either.",
                    path, line);
    *ret = file ? TAKE_PTR(file) : strdup(TOKEND_AUDIT_FILE);
    return *ret ? 0 : fail_errno(ctx, -ENOMEM, "Cannot find the audit file");
}
