/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Which audit file tokenctl reads when none is named: the one tokend writes. */
#pragma once

#include "tokenctl.h"

/* [Audit] File= of tokend's configuration file config (TOKEND_CONFIG_FILE when NULL), else the
 * compiled-in TOKEND_AUDIT_FILE. Only that key is read; the rest of the file is tokend's to
 * judge. The default configuration file may be missing, as it may for tokend; one named with
 * --config may not. Returns 0 and *ret (to be freed), or the exit code of the failure, which is
 * recorded in ctx. */
int audit_configured_file(Context *ctx, const char *config, char **ret);
