/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The bus side of token-error.h: its names and errnos as an sd-bus error map, and a TkError
 * turned into the bus error a handler returns. Linked by tokend, its workers and tokenctl,
 * never by libtoken. */
#include <errno.h>
#include <stdarg.h>

#include "bus-error.h"

#define ENTRY(name, err) SD_BUS_ERROR_MAP(name, err),
const sd_bus_error_map tk_bus_error_map[] = {TK_ERROR_FOREACH(ENTRY) SD_BUS_ERROR_MAP_END};
#undef ENTRY

int tk_bus_error_register(void)
{
    return sd_bus_error_add_map(tk_bus_error_map);
}

int tk_bus_error_set(sd_bus_error *ret_error, const TkError *e, int err)
{
    const char *name = tk_error_is_set(e) ? e->name : tk_error_errno_to_name(err);
    const char *message =
        tk_error_is_set(e) && e->message[0] ? e->message : "The operation failed.";
    return sd_bus_error_set(ret_error, name, message);
}

int tk_bus_reply_error(sd_bus_message *call, const sd_bus_error *error)
{
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
    (void)sd_bus_message_sensitive(call);
    int r = sd_bus_message_new_method_error(call, &reply, error);
    if (r >= 0)
        r = sd_bus_message_sensitive(reply);
    if (r >= 0)
        r = sd_bus_send(NULL, reply, NULL);
    return r;
}

int tk_bus_reply_errorf(sd_bus_message *call, const char *name, const char *fmt, ...)
{
    _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
    va_list ap;
    va_start(ap, fmt);
    int r = sd_bus_error_setfv(&error, name, fmt, ap);
    va_end(ap);
    if (!sd_bus_error_is_set(&error))
        return r;
    return tk_bus_reply_error(call, &error);
}

int tk_bus_reply_tk_error(sd_bus_message *call, const TkError *e, int err)
{
    _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
    (void)tk_bus_error_set(&error, e, err);
    return tk_bus_reply_error(call, &error);
}
