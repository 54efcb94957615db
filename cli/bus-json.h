/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-c/json.h>
#include <systemd/sd-bus.h>

#include "json-util.h"
#include "macro.h"

/* Reads the next complete value of any D-Bus type from m into JSON: dictionaries become
 * objects (keys as text), other arrays and structs become arrays, byte arrays become
 * lower-case hex text, variants are unwrapped. Used for GetManagedObjects, ListObjects and
 * signal payloads, so the JSON a script sees mirrors the bus API one to one. */
int bus_message_read_json(sd_bus_message *m, json_object **ret);

/* Convenience accessors for the JSON built above; NULL/def when absent or of another type. */
const char *json_get_string(json_object *o, const char *key);
int64_t json_get_int(json_object *o, const char *key, int64_t def);
int json_get_bool(json_object *o, const char *key, int def);

/* sd-bus.h brings the *_unrefp helpers. */
#define _cleanup_bus_message_ _cleanup_(sd_bus_message_unrefp)
#define _cleanup_bus_error_   _cleanup_(sd_bus_error_free)
