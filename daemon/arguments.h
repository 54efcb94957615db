/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include "operations.h"
#include "token-error.h"

/* The leading arguments of a Token method call (everything before its a{sv} options), read
 * and checked with the same care as the options: bounded, no token, no file. Leaves the
 * message at the options and says which row of the operation table the call is (ListObjects'
 * row depends on its options, which it peeks at and rewinds). An argument out of its limits is
 * -EINVAL with an InvalidArgument error that says what to give; a member with no row is
 * -EOPNOTSUPP, Unsupported. */
int arguments_read(sd_bus_message *m, const char *member, const Operation **ret, TkError *e);
