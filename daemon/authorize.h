/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include "operations.h"

/* The asynchronous question to polkitd for a call of one operation-table row (operations.h
 * names each row's action). */

/* Called exactly once: r == 0 allowed; r < 0 denied, with error set to
 * org.freedesktop.DBus.Error.AccessDenied or ...InteractiveAuthorizationRequired. */
typedef void (*authorize_cb_t)(sd_bus_message *m, int r, const sd_bus_error *error, void *userdata);

/* Asks polkitd whether the sender of m (whose effective uid the caller looked up, or
 * (uid_t)-1) may do op, with user interaction allowed when the caller allowed it. root, and a
 * row with no action, are allowed without asking (cb is called before this returns); polkitd
 * unreachable means denied. Returns < 0 only when the question could not be asked at all (cb
 * is then not called). */
int authorize_check(sd_bus_message *m, const Operation *op, uid_t uid, authorize_cb_t cb,
                    void *userdata);
