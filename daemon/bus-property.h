/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

/* A getter for a "b" property kept in a C bool: sd-bus's own offset-based getter reads an int
 * there, four bytes, which would take the neighbouring fields with it. */
int bus_property_get_bool(sd_bus *bus, const char *path, const char *interface,
                          const char *property, sd_bus_message *reply, void *userdata,
                          sd_bus_error *error);
