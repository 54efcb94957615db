/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bus-json.h"
#include "format.h"
#include "i18n.h"
#include "json-output.h"
#include "time-util.h"
#include "tokenctl.h"

/* What monitor knows of tokend's objects: { path: { interface: { property: value } } }, read
 * once at the start and kept up to date from the signals, so that an event names its token's
 * serial and reader, even the event of a token that is gone and can no longer be asked. */
typedef struct Monitor {
    Context *ctx;
    sd_bus *bus;
    json_object *objects;
} Monitor;

/* A call that never starts tokend by D-Bus activation: watching must not start the daemon. */
static int call_no_start(sd_bus *bus, const char *path, const char *iface, const char *member,
                         const char *arg, json_object **ret)
{
    _cleanup_bus_message_ sd_bus_message *m = NULL, *reply = NULL;
    int r;

    r = sd_bus_message_new_method_call(bus, &m, TOKEND_BUS_NAME, path, iface, member);
    if (r >= 0)
        r = sd_bus_message_set_auto_start(m, false);
    if (r >= 0 && arg)
        r = sd_bus_message_append_basic(m, 's', arg);
    if (r >= 0)
        r = sd_bus_call(bus, m, 0, NULL, &reply);
    if (r < 0)
        return r;
    return bus_message_read_json(reply, ret);
}

/* The properties of path's iface (a borrowed reference), asked for once when not known yet and
 * ask is set; NULL when tokend cannot say. */
static json_object *known(Monitor *mon, const char *path, const char *iface, bool ask)
{
    json_object *ifaces, *props;

    if (!path)
        return NULL;
    if (!json_object_object_get_ex(mon->objects, path, &ifaces)) {
        ifaces = json_object_new_object();
        json_object_object_add(mon->objects, path, ifaces);
    }
    if (json_object_object_get_ex(ifaces, iface, &props))
        return props;
    if (!ask || call_no_start(mon->bus, path, "org.freedesktop.DBus.Properties", "GetAll", iface,
                              &props) < 0)
        return NULL;
    json_object_object_add(ifaces, iface, props);
    return props;
}

static void add_string(json_object *o, const char *key, const char *value)
{
    json_object_object_add(o, key, isempty(value) ? NULL : json_object_new_string(value));
}

/* The event's serial and reader: of the token at path, or of the reader at path and the token
 * in it; null where there is none (the manager's own properties, an empty reader, a module
 * without readers). */
static void add_whose(Monitor *mon, json_object *e, const char *path, const char *iface, bool ask)
{
    const char *token = NULL, *reader = NULL;

    if (streq(iface, TOKEND_TOKEN_IFACE))
        token = path;
    else if (streq(iface, TOKEND_READER_IFACE)) {
        json_object *r = known(mon, path, TOKEND_READER_IFACE, ask);
        reader = json_get_string(r, "Name");
        token = json_get_string(r, "Token");
        if (streq_ptr(token, "/"))
            token = NULL;
    }
    json_object *t = known(mon, token, TOKEND_TOKEN_IFACE, ask);
    add_string(e, "serial", json_get_string(t, "Serial"));
    add_string(e, "reader", reader ?: json_get_string(t, "Reader"));
}

static json_object *event_new(const char *kind)
{
    char when[40] = "";
    json_object *e = json_object_new_object();

    /* When tokenctl received it: dbus-daemon puts no time stamp on a message. */
    (void)format_timestamp_usec(tk_now_usec(CLOCK_REALTIME), when, sizeof(when));
    json_object_object_add(e, "time", json_object_new_string(when));
    json_object_object_add(e, "event", json_object_new_string(kind));
    return e;
}

/* One event, one line; a monitor whose output is gone stops. */
static void emit(Monitor *mon, json_object *event)
{
    int r = 0;

    if (mon->ctx->json)
        r = json_print(stdout, event, false);
    else if (fflush(stdout) != 0)
        r = -errno ?: -EIO;
    if (r < 0)
        output_failed(mon->ctx, r);
}

static int on_token_event(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
    Monitor *mon = userdata;
    const char *member = sd_bus_message_get_member(m);
    bool added = streq(member, "TokenAdded");
    const char *path;

    if (sd_bus_message_read(m, "o", &path) < 0)
        return 0;
    /* A removed token can no longer be asked: what was known of it is all there is. */
    json_object *t = known(mon, path, TOKEND_TOKEN_IFACE, added);
    _cleanup_json_ json_object *e = event_new(member);
    json_object_object_add(e, "token", json_object_new_string(path));
    add_whose(mon, e, path, TOKEND_TOKEN_IFACE, added);
    if (!mon->ctx->json) {
        _cleanup_free_ char *b1 = NULL, *b2 = NULL;
        const char *what = added ? _("token added:  ") : _("token removed:");
        const char *serial = json_get_string(t, "Serial");
        if (serial)
            printf(_("%s %s (serial %s, label \"%s\")\n"), what, path, terminal_text(serial, &b1),
                   terminal_text(json_get_string(t, "Label"), &b2));
        else
            printf("%s %s\n", what, path);
    }
    emit(mon, e);
    if (!added)
        json_object_object_del(mon->objects, path);
    return 0;
}

static int on_progress(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
    Monitor *mon = userdata;
    const char *path = sd_bus_message_get_path(m);
    const char *operation, *stage;

    if (sd_bus_message_read(m, "ss", &operation, &stage) < 0)
        return 0;
    _cleanup_json_ json_object *e = event_new("Progress");
    json_object_object_add(e, "token", json_object_new_string(path));
    add_whose(mon, e, path, TOKEND_TOKEN_IFACE, true);
    json_object_object_add(e, "operation", json_object_new_string(operation));
    json_object_object_add(e, "stage", json_object_new_string(stage));
    if (!mon->ctx->json) {
        _cleanup_free_ char *b1 = NULL, *b2 = NULL;
        printf(_("progress:      %s %s: %s\n"), path, terminal_text(operation, &b1),
               terminal_text(stage, &b2));
    }
    emit(mon, e);
    return 0;
}

static int on_properties(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
    Monitor *mon = userdata;
    const char *path = sd_bus_message_get_path(m);
    _cleanup_json_ json_object *changed = NULL, *invalidated = NULL;
    const char *iface;

    if (sd_bus_message_read(m, "s", &iface) < 0 || bus_message_read_json(m, &changed) < 0)
        return 0;
    (void)bus_message_read_json(m, &invalidated);

    /* Known before: brought up to date. Not known: asked for, which gives the new values. */
    json_object *props = known(mon, path, iface, true);
    json_object_object_foreach(changed, key, val)
    {
        if (props)
            json_object_object_add(props, key, json_object_get(val));
        if (!mon->ctx->json) {
            _cleanup_free_ char *b1 = NULL, *b2 = NULL;
            const char *text =
                val ? json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE)
                    : "null";
            printf(_("changed:       %s %s = %s\n"), path, terminal_text(key, &b1),
                   terminal_text(text, &b2));
        }
    }
    _cleanup_json_ json_object *e = event_new("PropertiesChanged");
    json_object_object_add(e, "path", json_object_new_string(path));
    json_object_object_add(e, "interface", json_object_new_string(iface));
    add_whose(mon, e, path, iface, true);
    json_object_object_add(e, "changed", TAKE_PTR(changed));
    json_object_object_add(e, "invalidated",
                           invalidated ? TAKE_PTR(invalidated) : json_object_new_array());
    emit(mon, e);
    return 0;
}

static int on_owner(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
    Monitor *mon = userdata;
    const char *name, *old, *new;

    if (sd_bus_message_read(m, "sss", &name, &old, &new) < 0 || !isempty(new))
        return 0;
    /* The daemon went away: say so and stop, rather than wait on a bus that stays silent. */
    fail(mon->ctx, CLI_ERROR_FAILED, "tokend left the bus; monitor stopped.");
    return 0;
}

int verb_monitor(Context *ctx)
{
    _cleanup_json_ json_object *objects = NULL;
    Monitor mon = {.ctx = ctx};
    int r;

    if (ctx->n_args > 0)
        return fail(ctx, CLI_ERROR_USAGE, "monitor takes no arguments");
    r = context_bus(ctx, &mon.bus);
    if (r != 0)
        return r;
    sd_bus *bus = mon.bus;

    r = sd_bus_match_signal(bus, NULL, TOKEND_BUS_NAME, TOKEND_ROOT_PATH, TOKEND_MANAGER_IFACE,
                            "TokenAdded", on_token_event, &mon);
    if (r >= 0)
        r = sd_bus_match_signal(bus, NULL, TOKEND_BUS_NAME, TOKEND_ROOT_PATH, TOKEND_MANAGER_IFACE,
                                "TokenRemoved", on_token_event, &mon);
    if (r >= 0)
        r = sd_bus_add_match(bus, NULL,
                             "type='signal',sender='" TOKEND_BUS_NAME "',interface='"
                             "org.freedesktop.DBus.Properties',member='PropertiesChanged',"
                             "path_namespace='" TOKEND_ROOT_PATH "'",
                             on_properties, &mon);
    if (r >= 0)
        r = sd_bus_add_match(bus, NULL,
                             "type='signal',sender='" TOKEND_BUS_NAME
                             "',interface='" TOKEND_TOKEN_IFACE "',member='Progress',"
                             "path_namespace='" TOKEND_ROOT_PATH "'",
                             on_progress, &mon);
    if (r >= 0)
        r = sd_bus_add_match(
            bus, NULL,
            "type='signal',sender='org.freedesktop.DBus',interface='"
            "org.freedesktop.DBus',member='NameOwnerChanged',arg0='" TOKEND_BUS_NAME "'",
            on_owner, &mon);
    if (r < 0)
        return fail_errno(ctx, r, "Cannot watch the daemon's signals");

    /* After subscribing, so that nothing between the two is missed. A tokend that is not
     * running yet leaves nothing known; its objects are asked for as their events come. */
    if (call_no_start(bus, TOKEND_ROOT_PATH, "org.freedesktop.DBus.ObjectManager",
                      "GetManagedObjects", NULL, &objects) < 0 ||
        !json_object_is_type(objects, json_type_object)) {
        json_object_put(objects);
        objects = json_object_new_object();
    }
    mon.objects = objects;

    if (!ctx->json)
        fputs(_("Watching tokens; press Ctrl-C to stop.\n"), stderr);
    for (;;) {
        r = sd_bus_process(bus, NULL);
        if (r == -ECONNRESET || r == -ENOTCONN || ctx->error_name || ctx->output_failed)
            break;
        if (r < 0)
            return fail_errno(ctx, r, "Lost the bus connection");
        if (r > 0)
            continue;
        r = sd_bus_wait(bus, UINT64_MAX);
        if (r < 0 && r != -EINTR)
            return fail_errno(ctx, r, "Lost the bus connection");
    }
    return ctx->exit_code;
}
