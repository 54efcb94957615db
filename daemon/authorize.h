/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

/* Who may do what: the one table from Token method to polkit action, and the asynchronous
 * question to polkitd. */

/* The polkit action that guards a Token method: "" for a method open to everyone
 * (ListObjects), NULL for a method not in the table, which is always denied. */
const char *authorize_action(const char *method);

/* Called exactly once: r == 0 allowed; r < 0 denied, with error set to
 * org.freedesktop.DBus.Error.AccessDenied or ...InteractiveAuthorizationRequired. */
typedef void (*authorize_cb_t)(sd_bus_message *m, int r, const sd_bus_error *error, void *userdata);

/* Asks polkitd whether the sender of m may call method, with user interaction allowed when
 * the caller allowed it. root is allowed without asking; polkitd unreachable means denied.
 * Returns < 0 only when the question could not be asked at all (cb is then not called). */
int authorize_check(sd_bus_message *m, const char *method, authorize_cb_t cb, void *userdata);
