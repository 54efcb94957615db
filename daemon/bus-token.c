/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.tokend.Tokend1.Token: one object per present token. Property reads answer from the
 * inventory cache; methods are validated here, queued per token and run in the token's
 * worker, and answered when the worker replies. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UID_INVALID ((uid_t)-1)

#include "audit.h"
#include "authorize.h"
#include "bus-property.h"
#include "context.h"
#include "options.h"
#include "pin-policy.h"
#include "so-pin.h"
#include "worker-protocol.h"

static Token *token_find(Context *c, const char *path)
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

static int property_busy(sd_bus *bus, const char *path, const char *interface, const char *property,
                         sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
    Token *t = userdata;
    return sd_bus_message_append(reply, "b", (int)t->running);
}

static const sd_bus_vtable token_vtable[];

/* Every method goes through here: validate the options, check the caller, queue. */
static int token_enqueue(sd_bus_message *m, Token *t, const char *operation,
                         const char *const *allowed, sd_bus_error *error);

static int reply_error(sd_bus_message *m, const TkError *e)
{
    char name[128];
    snprintf(name, sizeof(name), TOKEND_ERROR_PREFIX "%s", e->name);
    return sd_bus_reply_method_errorf(m, name, "%s", e->message);
}

static int method_list_objects(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    static const char *const allowed[] = {"pin", NULL};
    return token_enqueue(m, userdata, "list-objects", allowed, error);
}

static int method_generate_key_pair(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    static const char *const allowed[] = {"pin", "label", "id", NULL};
    const char *type;
    TkKeySpec spec;
    int r = sd_bus_message_read(m, "s", &type);
    if (r < 0)
        return r;
    if (tk_key_spec_from_string(type, &spec) < 0)
        return sd_bus_reply_method_errorf(
            m, TOKEND_ERROR_PREFIX TK_ERROR_INVALID_ARGUMENT,
            "Unknown key type \"%s\": use rsa2048, rsa3072, rsa4096, ec-p256 or ec-p384.", type);
    return token_enqueue(m, userdata, "generate-key", allowed, error);
}

static int method_create_request(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    static const char *const allowed[] = {"pin", "email", "dns", NULL};
    const void *id;
    size_t n;
    const char *subject;
    int r = sd_bus_message_read_array(m, 'y', &id, &n);
    if (r >= 0)
        r = sd_bus_message_read(m, "s", &subject);
    if (r < 0)
        return r;
    if (n == 0)
        return sd_bus_reply_method_errorf(m, TOKEND_ERROR_PREFIX TK_ERROR_INVALID_ARGUMENT,
                                          "Give the id of the key that signs the request.");
    if (isempty(subject))
        return sd_bus_reply_method_errorf(m, TOKEND_ERROR_PREFIX TK_ERROR_INVALID_ARGUMENT,
                                          "Give the request's subject (RFC 4514, e.g. CN=Name).");
    return token_enqueue(m, userdata, "create-request", allowed, error);
}

static int method_import_certificate(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    static const char *const allowed[] = {"pin", "chain", NULL};
    int r = sd_bus_message_skip(m, "ay");
    if (r < 0)
        return r;
    return token_enqueue(m, userdata, "import-certificate", allowed, error);
}

static int method_change_pin(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    static const char *const allowed[] = {"pin", "new-pin", NULL};
    const char *who;
    int r = sd_bus_message_read(m, "s", &who);
    if (r < 0)
        return r;
    if (!streq(who, "user") && !streq(who, "so"))
        return sd_bus_reply_method_errorf(m, TOKEND_ERROR_PREFIX TK_ERROR_INVALID_ARGUMENT,
                                          "Say whose PIN to change: \"user\" or \"so\".");
    return token_enqueue(m, userdata, "change-pin", allowed, error);
}

static int method_unblock_pin(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    static const char *const allowed[] = {"so-pin", "new-pin", "request", "force", NULL};
    return token_enqueue(m, userdata, "unblock-pin", allowed, error);
}

static int method_initialize(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    static const char *const allowed[] = {"so-pin", "new-pin", NULL};
    const char *label;
    int r = sd_bus_message_read(m, "s", &label);
    if (r < 0)
        return r;
    if (isempty(label) || strlen(label) > 32)
        return sd_bus_reply_method_errorf(m, TOKEND_ERROR_PREFIX TK_ERROR_INVALID_ARGUMENT,
                                          "Give a token label of 1 to 32 characters.");
    return token_enqueue(m, userdata, "initialize", allowed, error);
}

static int method_delete_object(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    static const char *const allowed[] = {"pin", NULL};
    const char *class;
    const void *id;
    size_t n;
    int r = sd_bus_message_read(m, "s", &class);
    if (r >= 0)
        r = sd_bus_message_read_array(m, 'y', &id, &n);
    if (r < 0)
        return r;
    if (!streq(class, "key") && !streq(class, "certificate"))
        return sd_bus_reply_method_errorf(m, TOKEND_ERROR_PREFIX TK_ERROR_INVALID_ARGUMENT,
                                          "Say what to delete: \"key\" or \"certificate\".");
    if (n == 0)
        return sd_bus_reply_method_errorf(m, TOKEND_ERROR_PREFIX TK_ERROR_INVALID_ARGUMENT,
                                          "Give the id of the object to delete.");
    return token_enqueue(m, userdata, "delete-object", allowed, error);
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
    SD_BUS_PROPERTY("MinPinLength", "u", NULL, offsetof(Token, info.min_pin_length),
                    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("MaxPinLength", "u", NULL, offsetof(Token, info.max_pin_length),
                    SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_METHOD_WITH_ARGS("ListObjects", SD_BUS_ARGS("a{sv}", options),
                            SD_BUS_RESULT("aa{sv}", objects), method_list_objects,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("GenerateKeyPair", SD_BUS_ARGS("s", type, "a{sv}", options),
                            SD_BUS_RESULT("ay", id, "s", public_key_pem), method_generate_key_pair,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("CreateRequest", SD_BUS_ARGS("ay", id, "s", subject, "a{sv}", options),
                            SD_BUS_RESULT("s", pem), method_create_request,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("ImportCertificate", SD_BUS_ARGS("ay", certificate, "a{sv}", options),
                            SD_BUS_RESULT("ay", id), method_import_certificate,
                            SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("ChangePin", SD_BUS_ARGS("s", who, "a{sv}", options), SD_BUS_NO_RESULT,
                            method_change_pin, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("UnblockPin", SD_BUS_ARGS("a{sv}", options), SD_BUS_NO_RESULT,
                            method_unblock_pin, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("Initialize", SD_BUS_ARGS("s", label, "a{sv}", options),
                            SD_BUS_NO_RESULT, method_initialize, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("DeleteObject", SD_BUS_ARGS("s", class, "ay", id, "a{sv}", options),
                            SD_BUS_NO_RESULT, method_delete_object, SD_BUS_VTABLE_UNPRIVILEGED),
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

static void emit_busy(Token *t)
{
    sd_bus_emit_properties_changed(t->context->bus, t->path, TOKEND_TOKEN_IFACE, "Busy", NULL);
}

static void emit_progress(Token *t, const char *operation, const char *stage)
{
    sd_bus_emit_signal(t->context->bus, t->path, TOKEND_TOKEN_IFACE, "Progress", "ss", operation,
                       stage);
}

static Call *call_free(Call *call)
{
    if (call) {
        sd_bus_message_unref(call->message);
        free(call->request);
        tk_secret_free(call->derived_so_pin);
        free(call);
    }
    return NULL;
}

static bool changes_token(const char *operation)
{
    return !streq(operation, "list-objects");
}

/* Records the outcome of a call that changes a token, once, before the caller hears of it.
 * Returns < 0 when the audit line could not be written. */
static int audit_call(Token *t, const Call *call, const char *result, const char *error_name)
{
    if (!changes_token(call->operation))
        return 0;
    /* One kind of name on the record: the last part of a D-Bus error name ("AccessDenied"),
     * as tokend's own errors are given ("PinIncorrect"). */
    if (error_name && strrchr(error_name, '.'))
        error_name = strrchr(error_name, '.') + 1;
    TkError e = {};
    TkAuditRecord rec = {
        .time_usec = 0,
        .operation = call->operation,
        .serial = strempty(t->info.serial),
        .uid = call->uid,
        .pid = call->pid,
        .request = call->request,
        .result = result,
        .error = error_name,
    };
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    rec.time_usec = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
    int r = audit_record(t->context->config.audit_file, &rec, &e);
    if (r < 0)
        fprintf(stderr, "Cannot write the audit trail: %s\n", e.message);
    return r;
}

/* Replies with an error after recording the failure. */
static void fail_call(Token *t, Call *call, const char *name, const char *fmt, ...) _printf_(4, 5);
static void fail_call(Token *t, Call *call, const char *name, const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    const char *short_name = strncmp(name, TOKEND_ERROR_PREFIX, strlen(TOKEND_ERROR_PREFIX)) == 0
                                 ? name + strlen(TOKEND_ERROR_PREFIX)
                                 : name;
    audit_call(t, call, "failed", short_name);
    sd_bus_reply_method_errorf(call->message, name, "%s", message);
}

static void token_dispatch(Token *t);

/* The running call is over (replied to or failed): take it off the queue, run the next. */
static void token_call_done(Token *t)
{
    Call *call = t->queue;
    t->running_slot = sd_bus_slot_unref(t->running_slot);
    t->running = false;
    t->timed_out = false;
    if (call) {
        t->queue = call->next;
        emit_progress(t, call->operation, "done");
        call_free(call);
    }
    emit_busy(t);
    token_dispatch(t);
}

static int on_worker_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
    Token *t = userdata;
    Call *call = t->queue;
    int r;

    if (!call)
        return 0;
    if (sd_bus_message_is_method_error(reply, NULL)) {
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        if (e->name && strncmp(e->name, TOKEND_ERROR_PREFIX, strlen(TOKEND_ERROR_PREFIX)) == 0) {
            audit_call(t, call, "failed", e->name + strlen(TOKEND_ERROR_PREFIX));
            sd_bus_reply_method_error(call->message, e);
        } else {
            /* The worker died, hung or broke the protocol: fail this call only, and start a
             * fresh worker for the next one. */
            uint64_t now = 0;
            sd_event_now(t->context->event, CLOCK_MONOTONIC, &now);
            bool timeout = sd_bus_error_has_name(e, SD_BUS_ERROR_NO_REPLY) &&
                           now >= t->started_usec + t->context->worker_timeout_usec;
            if (timeout)
                fail_call(t, call, TOKEND_ERROR_PREFIX TK_ERROR_FAILED,
                          "The token did not finish the operation within %" PRIu64
                          " seconds and was reset. Check the token and try "
                          "again.",
                          t->context->worker_timeout_usec / 1000000);
            else
                fail_call(t, call, TOKEND_ERROR_PREFIX TK_ERROR_FAILED,
                          "The token's worker process stopped during the "
                          "operation; it may not have completed. Check the "
                          "token and try again.");
            fprintf(stderr, "Worker for token %s failed: %s\n", t->info.serial,
                    e->message ? e->message : e->name);
            t->timed_out = true;
            /* Nothing more goes to this worker: queued calls wait for its successor. */
            t->worker_lost = true;
            worker_kill(t->worker);
        }
    } else {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *out = NULL;
        if (audit_call(t, call, "ok", NULL) < 0) {
            sd_bus_reply_method_errorf(call->message, TOKEND_ERROR_PREFIX TK_ERROR_FAILED,
                                       "The operation was done, but the audit trail could not "
                                       "be written. Tell the administrator.");
            token_call_done(t);
            return 0;
        }
        r = sd_bus_message_new_method_return(call->message, &out);
        if (r >= 0)
            r = sd_bus_message_copy(out, reply, true);
        if (r >= 0)
            r = sd_bus_send(NULL, out, NULL);
        if (r < 0)
            fprintf(stderr, "Cannot forward reply for token %s: %s\n", t->info.serial,
                    strerror(-r));
    }
    token_call_done(t);
    return 0;
}

/* Copies the call's arguments, adding the derived SO PIN to its options. */
static int copy_with_so_pin(sd_bus_message *fwd, Call *call)
{
    sd_bus_message *m = call->message;
    unsigned leading = streq(call->operation, "initialize") ? 1 : 0;
    int r = 0;

    for (unsigned i = 0; r >= 0 && i < leading; i++)
        r = sd_bus_message_copy(fwd, m, false);
    if (r >= 0)
        r = sd_bus_message_enter_container(m, 'a', "{sv}");
    if (r >= 0)
        r = sd_bus_message_open_container(fwd, 'a', "{sv}");
    while (r >= 0 && (r = sd_bus_message_at_end(m, false)) == 0)
        r = sd_bus_message_copy(fwd, m, false);
    if (r >= 0)
        r = sd_bus_message_open_container(fwd, 'e', "sv");
    if (r >= 0)
        r = sd_bus_message_append(fwd, "s", "so-pin");
    if (r >= 0)
        r = sd_bus_message_open_container(fwd, 'v', "ay");
    if (r >= 0)
        r = sd_bus_message_append_array(fwd, 'y', call->derived_so_pin->data,
                                        call->derived_so_pin->len);
    for (int i = 0; r >= 0 && i < 3; i++)
        r = sd_bus_message_close_container(fwd);
    if (r >= 0)
        r = sd_bus_message_exit_container(m);
    return r;
}

/* Whether the caller of a queued call is still connected: a call whose caller went away while
 * it waited is dropped before it touches the token, since nobody would hear its result. */
static bool caller_connected(Token *t, Call *call)
{
    _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
    const char *sender = sd_bus_message_get_sender(call->message);
    if (!sender)
        return true;
    int r = sd_bus_get_name_creds(t->context->bus, sender, 0, &creds);
    return r >= 0 || (r != -ENXIO && r != -ESRCH && r != -ENOENT);
}

static void token_dispatch(Token *t)
{
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *fwd = NULL;
    Call *call;
    int r;

    while (!t->running && t->queue && !caller_connected(t, t->queue)) {
        call = t->queue;
        t->queue = call->next;
        call_free(call);
    }
    call = t->queue;
    if (t->running || !call || !t->worker || t->worker_lost)
        return;

    r = sd_bus_message_new_method_call(worker_bus(t->worker), &fwd, NULL, WORKER_PATH,
                                       WORKER_INTERFACE, sd_bus_message_get_member(call->message));
    if (r >= 0)
        r = sd_bus_message_sensitive(fwd);
    if (r >= 0)
        r = sd_bus_message_rewind(call->message, true);
    if (r >= 0)
        r = call->derived_so_pin ? copy_with_so_pin(fwd, call)
                                 : sd_bus_message_copy(fwd, call->message, true);
    if (r >= 0)
        r = sd_bus_call_async(worker_bus(t->worker), &t->running_slot, fwd, on_worker_reply, t,
                              t->context->worker_timeout_usec);
    if (r < 0) {
        fail_call(t, call, TOKEND_ERROR_PREFIX TK_ERROR_FAILED,
                  "Cannot reach the token's worker: %s", strerror(-r));
        t->running = true;
        token_call_done(t);
        return;
    }
    t->running = true;
    sd_event_now(t->context->event, CLOCK_MONOTONIC, &t->started_usec);
    emit_busy(t);
    emit_progress(t, call->operation, "started");
}

/* What a call waits with while polkit is asked: the token may go meanwhile, so it is found
 * again by path. */
typedef struct Pending {
    Context *context;
    char *path;
    const char *operation;
    char *request;
    TkSecret *derived_so_pin;
} Pending;

static void pending_free(Pending *p)
{
    tk_secret_free(p->derived_so_pin);
    free(p->path);
    free(p->request);
    free(p);
}

static void on_authorized(sd_bus_message *m, int r, const sd_bus_error *error, void *userdata)
{
    _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
    Pending *p = userdata;
    Token *t = token_find(p->context, p->path);
    uid_t uid = UID_INVALID;
    pid_t pid = 0;
    TkError e = {};

    if (sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID | SD_BUS_CREDS_PID, &creds) >= 0) {
        (void)sd_bus_creds_get_euid(creds, &uid);
        (void)sd_bus_creds_get_pid(creds, &pid);
    }
    Call *call = calloc(1, sizeof(Call));
    if (!call) {
        sd_bus_reply_method_errno(m, ENOMEM, NULL);
        pending_free(p);
        return;
    }
    *call = (Call){sd_bus_message_ref(m),       p->operation, uid, pid, TAKE_PTR(p->request),
                   TAKE_PTR(p->derived_so_pin), NULL};
    pending_free(p);

    if (!t) {
        sd_bus_reply_method_errorf(m, TOKEND_ERROR_PREFIX TK_ERROR_TOKEN_REMOVED,
                                   "The token was removed. Insert it again and repeat.");
        call_free(call);
        return;
    }
    if (r < 0) {
        if (changes_token(call->operation))
            audit_call(t, call, "refused", error->name);
        sd_bus_reply_method_error(m, error);
        call_free(call);
        return;
    }
    if (changes_token(call->operation) &&
        audit_check_writable(t->context->config.audit_file, &e) < 0) {
        sd_bus_reply_method_errorf(m, TOKEND_ERROR_PREFIX TK_ERROR_FAILED,
                                   "audit trail not writable: %s Nothing was done.", e.message);
        call_free(call);
        return;
    }

    Call **tail = &t->queue;
    while (*tail)
        tail = &(*tail)->next;
    *tail = call;
    token_dispatch(t);
}

/* The token's SO PIN from the site key: HMAC-SHA256 of the serial, as digits. The SO PIN's
 * length is not in PKCS#11, so it is 8 digits (the usual SO PIN/PUK length), kept within the
 * token's PIN length limits. */
static int derive_so_pin(Token *t, TkSecret **ret, TkError *e)
{
    _cleanup_secret_ TkSecret *key = NULL;
    size_t digits = 8;
    int r = tk_site_key_load(t->context->config.site_key_file, &key, e);
    if (r < 0)
        return r;
    if (t->info.min_pin_length > digits)
        digits = t->info.min_pin_length;
    if (t->info.max_pin_length > 0 && t->info.max_pin_length < digits)
        digits = t->info.max_pin_length;
    if (digits < TK_SO_PIN_DIGITS_MIN)
        digits = TK_SO_PIN_DIGITS_MIN;
    if (digits > TK_SO_PIN_DIGITS_MAX)
        digits = TK_SO_PIN_DIGITS_MAX;
    r = tk_so_pin_derive(key, t->info.serial, digits, ret);
    if (r < 0)
        return tk_error_set(e, r, TK_ERROR_FAILED, "Cannot derive the token's SO PIN.");
    return 0;
}

/* Checks what can be checked without the token (options, the unblock rules, the PIN policy),
 * then asks polkit, then queues the call for the token's worker. */
static int token_enqueue(sd_bus_message *m, Token *t, const char *operation,
                         const char *const *allowed, sd_bus_error *error)
{
    Context *c = t->context;
    Options o = {};
    TkError e = {};
    int r;

    sd_bus_message_sensitive(m);
    r = options_read(m, allowed, &o, &e);
    if (r < 0)
        return reply_error(m, &e);

    if (streq(operation, "unblock-pin")) {
        if (c->config.unblock_require_request && isempty(o.request))
            r = tk_error_set(&e, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                             "An unblock needs the unlock application's reference (option "
                             "request).");
        else if (t->info.so_pin_state == TK_PIN_FINAL_TRY && !o.force)
            r = tk_error_set(&e, -EDEADLK, TK_ERROR_SO_PIN_FINAL_TRY,
                             "The SO PIN/PUK of this token has one try left; a wrong one would "
                             "block the token for good. Check it, then repeat with force.");
        else if (t->info.so_pin_state == TK_PIN_LOCKED)
            r = tk_error_set(&e, -EPERM, TK_ERROR_PIN_LOCKED,
                             "The SO PIN/PUK of this token is locked; it cannot be unblocked.");
    }
    if (r >= 0 && o.new_pin) {
        TkPinPolicy policy = {
            .site_min_length = c->config.pin_min_length,
            .reject_trivial = c->config.pin_reject_trivial,
        };
        r = tk_pin_policy_check(&policy, t->info.min_pin_length, t->info.max_pin_length, o.new_pin,
                                streq(operation, "change-pin") ? o.pin : NULL, &e);
    }
    _cleanup_secret_ TkSecret *derived = NULL;
    if (r >= 0 && !o.so_pin && c->config.site_key_file &&
        (streq(operation, "unblock-pin") || streq(operation, "initialize")))
        r = derive_so_pin(t, &derived, &e);
    _cleanup_free_ char *request = o.request ? strdup(o.request) : NULL;
    options_done(&o);
    if (r < 0) {
        /* A refused call that would have changed the token is on the record too. */
        if (changes_token(operation)) {
            _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
            Call call = {.operation = operation, .uid = UID_INVALID, .request = request};
            if (sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID | SD_BUS_CREDS_PID, &creds) >= 0) {
                (void)sd_bus_creds_get_euid(creds, &call.uid);
                (void)sd_bus_creds_get_pid(creds, &call.pid);
            }
            audit_call(t, &call, "refused", e.name);
        }
        return reply_error(m, &e);
    }

    Pending *p = calloc(1, sizeof(Pending));
    if (!p)
        return -ENOMEM;
    p->context = c;
    p->operation = operation;
    p->request = TAKE_PTR(request);
    p->derived_so_pin = TAKE_PTR(derived);
    p->path = strdup(t->path);
    if (!p->path) {
        pending_free(p);
        return -ENOMEM;
    }
    r = authorize_check(m, sd_bus_message_get_member(m), on_authorized, p);
    if (r < 0) {
        pending_free(p);
        return r;
    }
    return 1;
}

/* Relays the worker's progress and keeps the cache current. */
static int on_worker_signal(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
    Token *t = userdata;
    if (sd_bus_message_is_signal(m, WORKER_INTERFACE, "Progress")) {
        const char *op, *stage;
        if (sd_bus_message_read(m, "ss", &op, &stage) >= 0)
            emit_progress(t, op, stage);
    } else if (sd_bus_message_is_signal(m, WORKER_INTERFACE, "Info")) {
        TkTokenInfo info;
        if (worker_read_info(m, &info) >= 0)
            token_update_info(t, &info);
    }
    return 0;
}

static int on_respawn(sd_event_source *s, uint64_t usec, void *userdata)
{
    Token *t = userdata;
    t->respawn = sd_event_source_disable_unref(t->respawn);
    if (t->present && !t->worker && token_spawn_worker(t) < 0)
        fprintf(stderr, "Cannot start a worker for token %s\n", t->info.serial);
    token_dispatch(t);
    return 0;
}

static void on_worker_exit(Worker *w, const siginfo_t *si, void *userdata)
{
    Token *t = userdata;
    if (!t->timed_out)
        fprintf(stderr, "Worker %d for token %s stopped (%s %d)\n", (int)si->si_pid, t->info.serial,
                si->si_code == CLD_EXITED ? "exit status" : "signal", si->si_status);
    /* The worker goes first, so that the queue waits for its successor. */
    t->running_slot = sd_bus_slot_unref(t->running_slot);
    t->worker = worker_free(t->worker);
    t->worker_lost = false;
    if (t->running && t->queue) {
        fail_call(t, t->queue, TOKEND_ERROR_PREFIX TK_ERROR_FAILED,
                  t->timed_out ? "The token did not finish the operation in time and was reset. "
                                 "Check the token and try again."
                               : "The token's worker process stopped during the operation (%s %d); "
                                 "it may not have completed. Check the token and try again.",
                  si->si_code == CLD_EXITED ? "exit status" : "signal", si->si_status);
        token_call_done(t);
    }
    t->running = false;
    t->timed_out = false;
    if (t->present && !t->respawn)
        sd_event_add_time_relative(t->context->event, &t->respawn, CLOCK_MONOTONIC, 200000, 0,
                                   on_respawn, t);
}

static char *escape_reader(const char *s)
{
    /* OpenSC's configuration syntax: a quoted string, so quotes and backslashes go. */
    char *out = malloc(strlen(s) + 1), *p = out;
    if (!out)
        return NULL;
    for (; *s; s++)
        if (*s != '"' && *s != '\\')
            *p++ = *s;
    *p = 0;
    return out;
}

/* OpenSC binds every card it sees: a worker's private configuration hides every other reader
 * (whole names) and makes C_SetPIN in an unlogged session send RESET RETRY COUNTER. */
static int write_opensc_conf(Token *t, char **ret_path)
{
    Context *c = t->context;
    _cleanup_free_ char *path = NULL, *escaped = NULL;
    int r = sd_bus_path_encode("/opensc", t->info.serial, &escaped);
    if (r < 0)
        return r;
    if (asprintf(&path, "%s/%s.conf", c->runtime_dir, strrchr(escaped, '/') + 1) < 0)
        return -ENOMEM;
    FILE *f = fopen(path, "we");
    if (!f)
        return -errno;
    fputs("app default {\n", f);
    bool first = true;
    for (Reader *rd = c->readers; rd; rd = rd->next) {
        if (streq_ptr(rd->name, t->info.slot_description))
            continue;
        _cleanup_free_ char *n = escape_reader(rd->name);
        fprintf(f, "%s\"%s\"", first ? "    ignored_readers = " : ", ", strempty(n));
        first = false;
    }
    for (Token *o = c->tokens; o; o = o->next) {
        if (o == t || !o->module->pcsc_backed || isempty(o->info.slot_description) ||
            streq_ptr(o->info.slot_description, t->info.slot_description))
            continue;
        _cleanup_free_ char *n = escape_reader(o->info.slot_description);
        fprintf(f, "%s\"%s\"", first ? "    ignored_readers = " : ", ", strempty(n));
        first = false;
    }
    if (!first)
        fputs(";\n", f);
    fputs("    framework pkcs15 {\n    }\n    pkcs11 {\n"
          "        user_pin_unblock_style = set_pin_in_unlogged_session;\n    }\n}\n",
          f);
    r = fflush(f) == 0 ? 0 : -errno;
    fclose(f);
    if (r < 0)
        return r;
    *ret_path = TAKE_PTR(path);
    return 0;
}

int token_spawn_worker(Token *t)
{
    Context *c = t->context;
    _cleanup_free_ char *conf = NULL, *env0 = NULL;
    int r;

    if (t->module->pcsc_backed) {
        r = write_opensc_conf(t, &conf);
        if (r < 0)
            return r;
        if (asprintf(&env0, "OPENSC_CONF=%s", conf) < 0)
            return -ENOMEM;
    }
    char *argv[] = {"--module",
                    t->module->path,
                    "--serial",
                    t->info.serial,
                    "--state-dir",
                    c->state_dir,
                    t->module->pcsc_backed ? "--unblock-with-puk" : NULL,
                    NULL};
    char *env[] = {env0, NULL};
    r = worker_spawn(c->event, c->worker_path, argv, env, on_worker_exit, t, &t->worker);
    if (r < 0)
        return r;
    return sd_bus_match_signal(worker_bus(t->worker), NULL, NULL, WORKER_PATH, WORKER_INTERFACE,
                               NULL, on_worker_signal, t);
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
    int r = sd_bus_path_encode(TOKEND_TOKEN_PREFIX, info->serial, &t->path);
    if (r < 0) {
        free(t);
        return r;
    }
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
    while (t->queue) {
        Call *call = t->queue;
        fail_call(t, call, TOKEND_ERROR_PREFIX TK_ERROR_TOKEN_REMOVED,
                  "The token %s was removed. Insert it again and repeat.", t->info.serial);
        t->queue = call->next;
        call_free(call);
    }
    t->running_slot = sd_bus_slot_unref(t->running_slot);
    t->running = false;
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
