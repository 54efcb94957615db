/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.tokend.Tokend1.Token: one object per present token. Property reads answer from the
 * inventory cache; every method goes to call.c, which validates, authorises, queues and runs
 * it in the token's worker. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bus-property.h"
#include "context.h"
#include "worker-protocol.h"

Token *token_find(Context *c, const char *path)
{
    for (Token *t = c->tokens; t; t = t->next)
        if (streq(t->path, path))
            return t;
    return NULL;
}

static int token_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
                             void **found, sd_bus_error *error)
{
    Token *t = token_find(userdata, path);
    if (!t)
        return 0;
    *found = t;
    return 1;
}

static int token_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes,
                                 sd_bus_error *error)
{
    Context *c = userdata;
    size_t n = 0;
    for (Token *t = c->tokens; t; t = t->next)
        n++;
    char **l = calloc(n + 1, sizeof(char *));
    if (!l)
        return -ENOMEM;
    n = 0;
    for (Token *t = c->tokens; t; t = t->next) {
        l[n] = strdup(t->path);
        if (!l[n]) {
            strv_free(l);
            return -ENOMEM;
        }
        n++;
    }
    *nodes = l;
    return 1;
}

#define STRING_PROPERTY(fn, expr)                                                             \
    static int fn(sd_bus *bus, const char *path, const char *interface, const char *property, \
                  sd_bus_message *reply, void *userdata, sd_bus_error *error)                 \
    {                                                                                         \
        Token *t = userdata;                                                                  \
        return sd_bus_message_append(reply, "s", strempty(expr));                             \
    }

STRING_PROPERTY(property_serial, t->info.serial)
STRING_PROPERTY(property_label, t->info.label)
STRING_PROPERTY(property_manufacturer, t->info.manufacturer)
STRING_PROPERTY(property_model, t->info.model)
STRING_PROPERTY(property_module, t->module->path)
STRING_PROPERTY(property_reader, t->module->pcsc_backed ? t->info.slot_description : "")
STRING_PROPERTY(property_user_pin_state, tk_pin_state_to_string(t->info.user_pin_state))
STRING_PROPERTY(property_so_pin_state, tk_pin_state_to_string(t->info.so_pin_state))
STRING_PROPERTY(property_user_source, tk_retries_source_to_string(t->info.user_pin_retries_source))
STRING_PROPERTY(property_so_source, tk_retries_source_to_string(t->info.so_pin_retries_source))
STRING_PROPERTY(property_puk_state, tk_pin_state_to_string(t->info.puk_state))
STRING_PROPERTY(property_puk_source, tk_retries_source_to_string(t->info.puk_retries_source))

static int property_busy(sd_bus *bus, const char *path, const char *interface, const char *property,
                         sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
    Token *t = userdata;
    return sd_bus_message_append(reply, "b", (int)t->running);
}

/* The shortest new PIN tokend takes for this token: the site's [Pin] MinLength= or the token's
 * own minimum, whichever is longer; a client asks for no shorter one. */
static int property_effective_min_pin_length(sd_bus *bus, const char *path, const char *interface,
                                             const char *property, sd_bus_message *reply,
                                             void *userdata, sd_bus_error *error)
{
    Token *t = userdata;
    unsigned site = t->context->config.pin_min_length, own = t->info.min_pin_length;
    return sd_bus_message_append(reply, "u", (uint32_t)(site > own ? site : own));
}

static int method_call(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    return call_start(m, userdata, error);
}

static const sd_bus_vtable token_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("Serial", "s", property_serial, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Label", "s", property_label, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("Manufacturer", "s", property_manufacturer, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Model", "s", property_model, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Module", "s", property_module, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Reader", "s", property_reader, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Initialized", "b", bus_property_get_bool, offsetof(Token, info.initialized),
                    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("UserPinInitialized", "b", bus_property_get_bool,
                    offsetof(Token, info.user_pin_initialized),
                    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("ProtectedAuthenticationPath", "b", bus_property_get_bool,
                    offsetof(Token, info.protected_authentication_path),
                    SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Busy", "b", property_busy, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("SerialConflict", "b", bus_property_get_bool, offsetof(Token, serial_conflict),
                    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("UserPinState", "s", property_user_pin_state, 0,
                    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("SoPinState", "s", property_so_pin_state, 0,
                    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("UserPinRetries", "i", NULL, offsetof(Token, info.user_pin_retries),
                    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("SoPinRetries", "i", NULL, offsetof(Token, info.so_pin_retries),
                    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("UserPinRetriesSource", "s", property_user_source, 0,
                    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("SoPinRetriesSource", "s", property_so_source, 0,
                    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("HasPuk", "b", bus_property_get_bool, offsetof(Token, info.has_puk),
                    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("PukState", "s", property_puk_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("PukRetries", "i", NULL, offsetof(Token, info.puk_retries),
                    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("PukRetriesSource", "s", property_puk_source, 0,
                    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("MinPinLength", "u", NULL, offsetof(Token, info.min_pin_length),
                    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("MaxPinLength", "u", NULL, offsetof(Token, info.max_pin_length),
                    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("EffectiveMinPinLength", "u", property_effective_min_pin_length, 0,
                    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_METHOD_WITH_ARGS("ListObjects", SD_BUS_ARGS("a{sv}", options),
                            SD_BUS_RESULT("aa{sv}", objects), method_call,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("GenerateKeyPair", SD_BUS_ARGS("s", type, "a{sv}", options),
                            SD_BUS_RESULT("ay", id, "s", public_key_pem), method_call,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("CreateRequest", SD_BUS_ARGS("ay", id, "s", subject, "a{sv}", options),
                            SD_BUS_RESULT("s", pem), method_call, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("ImportCertificate", SD_BUS_ARGS("ay", certificate, "a{sv}", options),
                            SD_BUS_RESULT("ay", id), method_call, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("ChangePin", SD_BUS_ARGS("s", who, "a{sv}", options), SD_BUS_NO_RESULT,
                            method_call, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("UnblockPin", SD_BUS_ARGS("a{sv}", options), SD_BUS_NO_RESULT,
                            method_call, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("Initialize", SD_BUS_ARGS("s", label, "a{sv}", options),
                            SD_BUS_NO_RESULT, method_call, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("DeleteObject", SD_BUS_ARGS("s", class, "ay", id, "a{sv}", options),
                            SD_BUS_NO_RESULT, method_call, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_SIGNAL_WITH_ARGS("Progress", SD_BUS_ARGS("s", operation, "s", stage), 0),
    SD_BUS_VTABLE_END,
};

int token_register(Context *c)
{
    int r = sd_bus_add_fallback_vtable(c->bus, NULL, TOKEND_TOKEN_PREFIX, TOKEND_TOKEN_IFACE,
                                       token_vtable, token_object_find, c);
    if (r < 0)
        return r;
    return sd_bus_add_node_enumerator(c->bus, NULL, TOKEND_TOKEN_PREFIX, token_node_enumerator, c);
}

void token_emit_busy(Token *t)
{
    sd_bus_emit_properties_changed(t->context->bus, t->path, TOKEND_TOKEN_IFACE, "Busy", NULL);
}

void token_emit_progress(Token *t, const char *operation, const char *stage)
{
    sd_bus_emit_signal(t->context->bus, t->path, TOKEND_TOKEN_IFACE, "Progress", "ss", operation,
                       stage);
}

/* The serial names the object. A second present token with the same serial gets the next free
 * name ("SERIAL-2", ...), so that both can be seen and told apart; tokend marks them both. */
static int token_path(Context *c, const char *serial, char **ret)
{
    for (unsigned n = 1; n <= 64; n++) {
        _cleanup_free_ char *name = NULL, *path = NULL;
        if (n == 1 ? !(name = strdup(serial)) : asprintf(&name, "%s-%u", serial, n) < 0)
            return -ENOMEM;
        int r = sd_bus_path_encode(TOKEND_TOKEN_PREFIX, name, &path);
        if (r < 0)
            return r;
        if (!token_find(c, path)) {
            *ret = TAKE_PTR(path);
            return 0;
        }
    }
    return -EEXIST;
}

int token_new(Context *c, Module *m, const TkTokenInfo *info, Token **ret)
{
    Token *t = calloc(1, sizeof(Token));
    if (!t)
        return -ENOMEM;
    t->context = c;
    t->module = m;
    t->present = true;
    t->info = *info;
    t->worker_retries = WORKER_RETRIES_NONE;
    int r = token_path(c, info->serial, &t->path);
    if (r < 0) {
        free(t);
        return r;
    }
    ledger_add_counts(t, &t->info);
    *ret = t;
    return 0;
}

void token_update_info(Token *t, TkTokenInfo *info)
{
    /* The serial is the object's name: a token that got a new one is a new token, and the
     * scanner reports it as such. */
    if (!streq_ptr(info->serial, t->info.serial) || worker_info_equal(info, &t->info)) {
        tk_token_info_done(info);
        return;
    }
    tk_token_info_done(&t->info);
    t->info = *info;
    sd_bus_emit_properties_changed_strv(t->context->bus, t->path, TOKEND_TOKEN_IFACE, NULL);
}

/* The token is gone: every waiting call fails, the worker stops. */
void token_remove(Token *t)
{
    t->present = false;
    call_fail_queue(t);
}

Token *token_free(Token *t)
{
    if (!t)
        return NULL;
    token_remove(t);
    t->respawn = sd_event_source_disable_unref(t->respawn);
    t->worker = worker_free(t->worker);
    tk_token_info_done(&t->info);
    free(t->path);
    free(t);
    return NULL;
}
