/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include "token-error.h"

/* tokend's error names with their errnos, as sd-bus takes them (sd_bus_error_add_map()): with
 * it registered, sd_bus_error_get_errno() and a failed sd_bus_call() give the errno of a
 * tokend error rather than EIO. */
extern const sd_bus_error_map tk_bus_error_map[];

/* Registers the map; every program on tokend's buses does so at start. */
int tk_bus_error_register(void);

/* Sets ret_error from e (its name and message) and returns the name's negative errno, for a
 * method handler to return. Without a name in e, err picks one. */
int tk_bus_error_set(sd_bus_error *ret_error, const TkError *e, int err);

/* Error replies to calls that may carry secrets: the call and the reply are marked sensitive
 * (wiped when freed), whichever step failed. Each returns what sending did. */
int tk_bus_reply_error(sd_bus_message *call, const sd_bus_error *error);
int tk_bus_reply_errorf(sd_bus_message *call, const char *name, const char *fmt, ...)
    _printf_(3, 4);
int tk_bus_reply_tk_error(sd_bus_message *call, const TkError *e, int err);
