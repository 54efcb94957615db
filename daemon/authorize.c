/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "authorize.h"
#include "macro.h"

/* Interactive authentication waits for a person at the counter. */
#define POLKIT_TIMEOUT_USEC (5ULL * 60 * 1000 * 1000)

typedef struct Pending {
    sd_bus_message *message;
    const Operation *op;
    authorize_cb_t cb;
    void *userdata;
} Pending;

static void pending_free(void *userdata)
{
    Pending *p = userdata;
    sd_bus_message_unref(p->message);
    free(p);
}

static int on_polkit_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
    Pending *p = userdata;
    sd_bus_error e = SD_BUS_ERROR_NULL;
    int authorized = 0, challenge = 0;
    const sd_bus_error *failed = sd_bus_message_get_error(reply);
    int r;

    if (failed)
        sd_bus_error_setf(&e, SD_BUS_ERROR_ACCESS_DENIED,
                          "Could not ask polkit whether you may %s (%s). Nothing was done.",
                          p->op->what, failed->message);
    else if ((r = sd_bus_message_enter_container(reply, 'r', "bba{ss}")) < 0 ||
             (r = sd_bus_message_read(reply, "bb", &authorized, &challenge)) < 0)
        sd_bus_error_setf(&e, SD_BUS_ERROR_ACCESS_DENIED,
                          "polkit gave an answer that cannot be read. Nothing was done.");
    else if (!authorized && challenge)
        sd_bus_error_setf(&e, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED,
                          "Authentication is required to %s (%s).", p->op->what, p->op->action);
    else if (!authorized)
        sd_bus_error_setf(&e, SD_BUS_ERROR_ACCESS_DENIED, "Not authorised to %s (%s).", p->op->what,
                          p->op->action);

    p->cb(p->message, authorized ? 0 : -EACCES, &e, p->userdata);
    sd_bus_error_free(&e);
    return 0;
}

int authorize_check(sd_bus_message *m, const Operation *op, uid_t uid, authorize_cb_t cb,
                    void *userdata)
{
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *q = NULL;
    sd_bus_slot *slot;
    int r;

    if (uid == 0 || !op->action) {
        cb(m, 0, NULL, userdata);
        return 0;
    }

    sd_bus *bus = sd_bus_message_get_bus(m);
    uint32_t flags = sd_bus_message_get_allow_interactive_authorization(m) ? 1 : 0;
    r = sd_bus_message_new_method_call(
        bus, &q, "org.freedesktop.PolicyKit1", "/org/freedesktop/PolicyKit1/Authority",
        "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization");
    if (r < 0)
        return r;
    r = sd_bus_message_append(q, "(sa{sv})sa{ss}us", "system-bus-name", 1, "name", "s",
                              sd_bus_message_get_sender(m), op->action, 0, flags, "");
    if (r < 0)
        return r;

    Pending *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    *p = (Pending){sd_bus_message_ref(m), op, cb, userdata};
    r = sd_bus_call_async(bus, &slot, q, on_polkit_reply, p, POLKIT_TIMEOUT_USEC);
    if (r < 0) {
        pending_free(p);
        return r;
    }
    /* The slot lives until the reply (or the bus) goes, and frees the state with it. */
    (void)sd_bus_slot_set_destroy_callback(slot, pending_free);
    (void)sd_bus_slot_set_floating(slot, 1);
    sd_bus_slot_unref(slot);
    return 0;
}
