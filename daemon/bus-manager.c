/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The root object: org.tokend.Tokend1.Manager and the ObjectManager, and the reader objects. */
#include <errno.h>
#include <stdlib.h>

#include "config.h"
#include "bus-property.h"
#include "context.h"

static int append_paths(sd_bus_message *reply, Context *c, bool tokens)
{
    int r = sd_bus_message_open_container(reply, 'a', "o");
    if (r < 0)
        return r;
    if (tokens)
        for (Token *t = c->tokens; t; t = t->next) {
            r = sd_bus_message_append(reply, "o", t->path);
            if (r < 0)
                return r;
        }
    else
        for (Reader *rd = c->readers; rd; rd = rd->next) {
            r = sd_bus_message_append(reply, "o", rd->path);
            if (r < 0)
                return r;
        }
    return sd_bus_message_close_container(reply);
}

static int property_tokens(sd_bus *bus, const char *path, const char *interface,
                           const char *property, sd_bus_message *reply, void *userdata,
                           sd_bus_error *error)
{
    return append_paths(reply, userdata, true);
}

static int property_readers(sd_bus *bus, const char *path, const char *interface,
                            const char *property, sd_bus_message *reply, void *userdata,
                            sd_bus_error *error)
{
    return append_paths(reply, userdata, false);
}

static int property_version(sd_bus *bus, const char *path, const char *interface,
                            const char *property, sd_bus_message *reply, void *userdata,
                            sd_bus_error *error)
{
    return sd_bus_message_append(reply, "s", TOKEND_VERSION);
}

static int property_modules(sd_bus *bus, const char *path, const char *interface,
                            const char *property, sd_bus_message *reply, void *userdata,
                            sd_bus_error *error)
{
    return module_append_states(reply, userdata);
}

/* Each Token method's limit in seconds, as tokend applies it (the operation table's, within
 * --worker-timeout): clients wait that long, and for polkit besides, before they give up. */
static int property_operation_timeouts(sd_bus *bus, const char *path, const char *interface,
                                       const char *property, sd_bus_message *reply, void *userdata,
                                       sd_bus_error *error)
{
    Context *c = userdata;
    int r = sd_bus_message_open_container(reply, 'a', "{st}");
    for (size_t i = 0; r >= 0 && i < n_operations; i++) {
        const char *member = operations[i].member;
        if (operation_find_member(member) != &operations[i])
            continue; /* a variant of a member already given */
        uint64_t sec = operation_member_timeout_usec(member, c->worker_timeout_usec) / 1000000u;
        r = sd_bus_message_append(reply, "{st}", member, sec);
    }
    return r < 0 ? r : sd_bus_message_close_container(reply);
}

static const sd_bus_vtable manager_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("Version", "s", property_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Tokens", "ao", property_tokens, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("Readers", "ao", property_readers, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("Modules", "a(sss)", property_modules, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("OperationTimeouts", "a{st}", property_operation_timeouts, 0,
                    SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_SIGNAL_WITH_ARGS("TokenAdded", SD_BUS_ARGS("o", token), 0),
    SD_BUS_SIGNAL_WITH_ARGS("TokenRemoved", SD_BUS_ARGS("o", token), 0),
    SD_BUS_VTABLE_END,
};

int manager_emit_tokens_changed(Context *c)
{
    return sd_bus_emit_properties_changed(c->bus, TOKEND_ROOT_PATH, TOKEND_MANAGER_IFACE, "Tokens",
                                          NULL);
}

static Reader *reader_by_path(Context *c, const char *path)
{
    for (Reader *rd = c->readers; rd; rd = rd->next)
        if (streq(rd->path, path))
            return rd;
    return NULL;
}

static int reader_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
                              void **found, sd_bus_error *error)
{
    Reader *rd = reader_by_path(userdata, path);
    if (!rd)
        return 0;
    *found = rd;
    return 1;
}

static int reader_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes,
                                  sd_bus_error *error)
{
    Context *c = userdata;
    size_t n = 0;
    for (Reader *rd = c->readers; rd; rd = rd->next)
        n++;
    char **l = calloc(n + 1, sizeof(char *));
    if (!l)
        return -ENOMEM;
    n = 0;
    for (Reader *rd = c->readers; rd; rd = rd->next)
        if (!(l[n++] = strdup(rd->path))) {
            strv_free(l);
            return -ENOMEM;
        }
    *nodes = l;
    return 1;
}

static int property_reader_name(sd_bus *bus, const char *path, const char *interface,
                                const char *property, sd_bus_message *reply, void *userdata,
                                sd_bus_error *error)
{
    Reader *rd = userdata;
    return sd_bus_message_append(reply, "s", rd->name);
}

static int property_reader_atr(sd_bus *bus, const char *path, const char *interface,
                               const char *property, sd_bus_message *reply, void *userdata,
                               sd_bus_error *error)
{
    Reader *rd = userdata;
    return sd_bus_message_append_array(reply, 'y', rd->atr, rd->card_present ? rd->atr_len : 0);
}

static int property_reader_token(sd_bus *bus, const char *path, const char *interface,
                                 const char *property, sd_bus_message *reply, void *userdata,
                                 sd_bus_error *error)
{
    Reader *rd = userdata;
    for (Token *t = rd->context->tokens; t; t = t->next)
        if (t->module->pcsc_backed && tk_slot_names_reader(t->info.slot_description, rd->name))
            return sd_bus_message_append(reply, "o", t->path);
    return sd_bus_message_append(reply, "o", "/");
}

static const sd_bus_vtable reader_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("Name", "s", property_reader_name, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("CardPresent", "b", bus_property_get_bool, offsetof(Reader, card_present),
                    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("Atr", "ay", property_reader_atr, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("Token", "o", property_reader_token, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_VTABLE_END,
};

int manager_register(Context *c)
{
    int r;
    r = sd_bus_add_object_manager(c->bus, NULL, TOKEND_ROOT_PATH);
    if (r < 0)
        return r;
    r = sd_bus_add_object_vtable(c->bus, NULL, TOKEND_ROOT_PATH, TOKEND_MANAGER_IFACE,
                                 manager_vtable, c);
    if (r < 0)
        return r;
    r = sd_bus_add_fallback_vtable(c->bus, NULL, TOKEND_READER_PREFIX, TOKEND_READER_IFACE,
                                   reader_vtable, reader_object_find, c);
    if (r < 0)
        return r;
    r = sd_bus_add_node_enumerator(c->bus, NULL, TOKEND_READER_PREFIX, reader_node_enumerator, c);
    if (r < 0)
        return r;
    return token_register(c);
}
