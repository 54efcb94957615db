/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bus-json.h"
#include "format.h"
#include "tokenctl.h"

static void emit(Context *ctx, json_object *event)
{
    _cleanup_free_ char *text = NULL;
    if (ctx->json &&
        json_text_for_terminal(json_object_to_json_string_ext(
                                   event, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
                               &text) >= 0)
        puts(text);
    fflush(stdout);
}

static int on_token_event(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
    Context *ctx = userdata;
    const char *member = sd_bus_message_get_member(m);
    const char *path;

    if (sd_bus_message_read(m, "o", &path) < 0)
        return 0;
    if (!ctx->json) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *serial = NULL, *label = NULL, *b1 = NULL, *b2 = NULL;

        /* A person wants to know which token came; a removed one can no longer be asked. */
        if (streq(member, "TokenAdded")) {
            sd_bus *bus = sd_bus_message_get_bus(m);
            (void)sd_bus_get_property_string(bus, TOKEND_BUS_NAME, path, TOKEND_TOKEN_IFACE,
                                             "Serial", &error, &serial);
            (void)sd_bus_get_property_string(bus, TOKEND_BUS_NAME, path, TOKEND_TOKEN_IFACE,
                                             "Label", &error, &label);
        }
        if (serial)
            printf("token added:   %s (serial %s, label \"%s\")\n", path,
                   terminal_text(serial, &b1), terminal_text(label, &b2));
        else
            printf("%s %s\n",
                   streq(member, "TokenAdded") ? "token added:  " : "token removed:", path);
        fflush(stdout);
        return 0;
    }
    _cleanup_json_ json_object *e = json_object_new_object();
    json_object_object_add(e, "event", json_object_new_string(member));
    json_object_object_add(e, "token", json_object_new_string(path));
    emit(ctx, e);
    return 0;
}

static int on_progress(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
    Context *ctx = userdata;
    const char *operation, *stage;

    if (sd_bus_message_read(m, "ss", &operation, &stage) < 0)
        return 0;
    if (!ctx->json) {
        _cleanup_free_ char *b1 = NULL, *b2 = NULL;
        printf("progress:      %s %s: %s\n", sd_bus_message_get_path(m),
               terminal_text(operation, &b1), terminal_text(stage, &b2));
        fflush(stdout);
        return 0;
    }
    _cleanup_json_ json_object *e = json_object_new_object();
    json_object_object_add(e, "event", json_object_new_string("Progress"));
    json_object_object_add(e, "token", json_object_new_string(sd_bus_message_get_path(m)));
    json_object_object_add(e, "operation", json_object_new_string(operation));
    json_object_object_add(e, "stage", json_object_new_string(stage));
    emit(ctx, e);
    return 0;
}

static int on_properties(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
    Context *ctx = userdata;
    _cleanup_json_ json_object *changed = NULL, *invalidated = NULL;
    const char *iface;

    if (sd_bus_message_read(m, "s", &iface) < 0 || bus_message_read_json(m, &changed) < 0)
        return 0;
    (void)bus_message_read_json(m, &invalidated);

    if (!ctx->json) {
        json_object_object_foreach(changed, key, val)
        {
            _cleanup_free_ char *b1 = NULL, *b2 = NULL;
            const char *text =
                val ? json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE)
                    : "null";
            printf("changed:       %s %s = %s\n", sd_bus_message_get_path(m),
                   terminal_text(key, &b1), terminal_text(text, &b2));
        }
        fflush(stdout);
        return 0;
    }
    _cleanup_json_ json_object *e = json_object_new_object();
    json_object_object_add(e, "event", json_object_new_string("PropertiesChanged"));
    json_object_object_add(e, "path", json_object_new_string(sd_bus_message_get_path(m)));
    json_object_object_add(e, "interface", json_object_new_string(iface));
    json_object_object_add(e, "changed", TAKE_PTR(changed));
    json_object_object_add(e, "invalidated", TAKE_PTR(invalidated));
    emit(ctx, e);
    return 0;
}

static int on_owner(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
    Context *ctx = userdata;
    const char *name, *old, *new;

    if (sd_bus_message_read(m, "sss", &name, &old, &new) < 0 || !isempty(new))
        return 0;
    /* The daemon went away: say so and stop, rather than wait on a bus that stays silent. */
    fail(ctx, CLI_ERROR_FAILED, "tokend left the bus; monitor stopped.");
    return 0;
}

int verb_monitor(Context *ctx)
{
    sd_bus *bus;
    int r;

    if (ctx->n_args > 0)
        return fail(ctx, CLI_ERROR_USAGE, "monitor takes no arguments");
    r = context_bus(ctx, &bus);
    if (r != 0)
        return r;

    r = sd_bus_match_signal(bus, NULL, TOKEND_BUS_NAME, TOKEND_ROOT_PATH, TOKEND_MANAGER_IFACE,
                            "TokenAdded", on_token_event, ctx);
    if (r >= 0)
        r = sd_bus_match_signal(bus, NULL, TOKEND_BUS_NAME, TOKEND_ROOT_PATH, TOKEND_MANAGER_IFACE,
                                "TokenRemoved", on_token_event, ctx);
    if (r >= 0)
        r = sd_bus_add_match(bus, NULL,
                             "type='signal',sender='" TOKEND_BUS_NAME "',interface='"
                             "org.freedesktop.DBus.Properties',member='PropertiesChanged',"
                             "path_namespace='" TOKEND_ROOT_PATH "'",
                             on_properties, ctx);
    if (r >= 0)
        r = sd_bus_add_match(bus, NULL,
                             "type='signal',sender='" TOKEND_BUS_NAME
                             "',interface='" TOKEND_TOKEN_IFACE "',member='Progress',"
                             "path_namespace='" TOKEND_ROOT_PATH "'",
                             on_progress, ctx);
    if (r >= 0)
        r = sd_bus_add_match(
            bus, NULL,
            "type='signal',sender='org.freedesktop.DBus',interface='"
            "org.freedesktop.DBus',member='NameOwnerChanged',arg0='" TOKEND_BUS_NAME "'",
            on_owner, ctx);
    if (r < 0)
        return fail_errno(ctx, r, "Cannot watch the daemon's signals");

    if (!ctx->json)
        fputs("Watching tokens; press Ctrl-C to stop.\n", stderr);
    for (;;) {
        r = sd_bus_process(bus, NULL);
        if (r == -ECONNRESET || r == -ENOTCONN || ctx->error_name)
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
