/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>

#include "config.h"
#include "store.h"

int store_open(const Config *config, const char *state_dir, Store **ret, TkError *error)
{
    switch (config->store_backend) {
#if TOKEND_HAVE_POSTGRESQL
    case STORE_POSTGRESQL:
        return store_pg_open(config, state_dir, ret, error);
#endif
    case STORE_FILE:
        return store_file_open(state_dir, ret, error);
    default:
        return tk_error_set(error, -EOPNOTSUPP, TK_ERROR_FAILED,
                            "This tokend was built without the store [Store] Backend= names");
    }
}

Store *store_free(Store *s)
{
    if (s)
        s->ops->free(s);
    return NULL;
}

int store_audit_ready(Store *s, TkError *error)
{
    TkError e = {};
    if (!s || !s->ops->audit_forward || s->unreachable != STORE_REFUSE)
        return 0;
    int r = s->ops->audit_forward(s, true, &e);
    if (r >= 0 || r == -EAGAIN)
        return 0;
    return tk_error_set(error, r, TK_ERROR_FAILED,
                        "%s. This station records no act that the office's audit trail cannot "
                        "take now ([Store] WhenUnreachable=refuse), so nothing is done to the "
                        "token: try again once the database is back, or ask the administrator",
                        e.message);
}
