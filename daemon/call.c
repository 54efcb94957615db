/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A Token method call, in the order systemd's daemons keep: parse and validate (bounded, no
 * token, no file) → polkit → site key, guards, intent record → queue → guards again when it
 * leaves the queue, and the retry ledger writable where the call depends on it → the worker
 * (which checks the guards once more with the token's own counters and the ledger's count) →
 * the ledger's count → result record → reply. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arguments.h"
#include "audit.h"
#include "authorize.h"
#include "bus-error.h"
#include "context.h"
#include "guard.h"
#include "log.h"
#include "options.h"
#include "pin-policy.h"
#include "so-pin.h"
#include "store.h"
#include "text-escape.h"
#include "time-util.h"
#include "worker-protocol.h"

#define UID_INVALID ((uid_t)-1)

/* How many calls one bus connection may have waiting for one token: enough for a client that
 * pipelines, too few for one that floods polkit or the queue. */
#define CALLS_PER_CALLER_MAX 4

Call *call_free(Call *call)
{
    if (call) {
        sd_bus_message_unref(call->message);
        free(call->path);
        free(call->sender);
        free(call->request);
        tk_secret_free(call->derived_so_pin);
        free(call);
    }
    return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(Call *, call_free)

static int reply_tk_error(sd_bus_message *m, const TkError *e)
{
    return tk_bus_reply_tk_error(m, e, -EIO);
}

static TkAuditRecord call_record(const Token *t, const Call *call)
{
    return (TkAuditRecord){
        .time_usec = tk_now_usec(CLOCK_REALTIME),
        .operation = call->op->name,
        .serial = t ? strempty(t->info.serial) : NULL,
        .uid = call->uid,
        .pid = call->pid,
        .request = call->request,
        .intent = call->intent_seq,
    };
}

/* Records the outcome of an audited call, once, before the caller hears of it. Returns < 0
 * when the line could not be written. */
static int record_result(Token *t, const Call *call, const char *result, const char *error_name)
{
    if (!operation_audited(call->op))
        return 0;
    /* The record names errors short ("PinIncorrect", "AccessDenied"): tokend's and polkit's
     * read alike. */
    TkAuditRecord rec = call_record(t, call);
    rec.result = result;
    rec.error = tk_error_short_name(error_name);
    TkError e = {};
    int r = audit_record(t->context->config.audit_file, call->op, &rec, &e);
    if (r < 0)
        log_error_errno(r, "Cannot write the audit trail: %s", e.message);
    else
        store_audit_forward(t->context->store);
    return r;
}

/* Replies with an error after recording it: "refused" when the token was not touched, "failed"
 * when it was asked. */
static void finish_with_error(Token *t, Call *call, const char *result, const char *name,
                              const char *fmt, ...) _printf_(5, 6);
static void finish_with_error(Token *t, Call *call, const char *result, const char *name,
                              const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    record_result(t, call, result, name);
    tk_bus_reply_errorf(call->message, name, "%s", message);
}

static void finish_with_tk_error(Token *t, Call *call, const char *result, const TkError *e)
{
    finish_with_error(t, call, result, e->name, "%s", e->message);
}

/* What can be said about a call without the token, the site key or polkit. */
static int check_options(Token *t, const Operation *op, const Options *o, TkError *e)
{
    Config *config = &t->context->config;
    /* A dry run carries no secrets: it asks whether the act would be allowed before anyone
     * types one. */
    int r = o->dry_run
                ? 0
                : options_check_required(op, o, op->so_pin_derived && config->site_key_file, e);
    if (r < 0)
        return r;
    if (streq(op->name, "unblock-pin") && config->unblock_require_request && !o->request)
        return tk_error_set(e, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                            "An unblock needs the unlock application's reference: option "
                            "\"request\", 1 to 64 printable characters.");
    if (o->new_pin) {
        TkPinPolicy policy = {
            .site_min_length = config->pin_min_length,
            .reject_trivial = config->pin_reject_trivial,
        };
        /* A new PIN must differ from the one it replaces, which a PIN change presents. */
        const TkSecret *old = streq(op->member, "ChangePin") ? o->pin : NULL;
        return tk_pin_policy_check(&policy, t->info.min_pin_length, t->info.max_pin_length,
                                   o->new_pin, old, e);
    }
    return 0;
}

static unsigned calls_of_sender(Token *t, const char *sender)
{
    unsigned n = 0;
    for (Call *c = t->context->authorizing; c; c = c->next)
        if (streq(c->path, t->path) && streq_ptr(c->sender, sender))
            n++;
    for (Call *c = t->queue; c; c = c->next)
        if (streq_ptr(c->sender, sender))
            n++;
    return n;
}

static void unlink_authorizing(Call *call)
{
    for (Call **p = &call->context->authorizing; *p; p = &(*p)->next)
        if (*p == call) {
            *p = call->next;
            call->next = NULL;
            return;
        }
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

/* Whether the call would use the SO PIN/PUK that the site key derives from the serial. */
static bool uses_derived_so_pin(const Token *t, const Call *call)
{
    return call->op->so_pin_derived && t->context->config.site_key_file && !call->so_pin_given;
}

/* Two present tokens claim one serial: the derived SO PIN/PUK would go to whichever card
 * answers, and one of them is not the card it was derived for. */
static int check_serial_conflict(const Token *t, const Call *call, TkError *e)
{
    if (!t->serial_conflict || !uses_derived_so_pin(t, call))
        return 0;
    return tk_error_set(e, -ENOTUNIQ, TK_ERROR_SERIAL_CONFLICT,
                        "Another present token has the same serial number (%s), so tokend does "
                        "not know which card the derived SO PIN is for. Remove the other token, "
                        "or give the SO PIN (option \"so-pin\").",
                        t->info.serial);
}

/* The result of a method with nothing in it: empty strings and arrays, so that a dry run's
 * reply has the method's signature. */
static int append_empty_result(sd_bus_message *reply, const char *signature)
{
    int r = 0;
    for (const char *p = signature; r >= 0 && *p;)
        if (*p == 's') {
            r = sd_bus_message_append_basic(reply, 's', "");
            p++;
        } else if (strncmp(p, "ay", 2) == 0) {
            r = sd_bus_message_append_array(reply, 'y', NULL, 0);
            p += 2;
        } else if (strncmp(p, "aa{sv}", 6) == 0) {
            r = sd_bus_message_open_container(reply, 'a', "a{sv}");
            if (r >= 0)
                r = sd_bus_message_close_container(reply);
            p += 6;
        } else
            return -EINVAL;
    return r;
}

/* A dry run after polkit said yes: what the guards would say with the counters tokend has,
 * then an empty result. The site key is not read, the token not asked, nothing recorded. */
static void reply_dry_run(Token *t, Call *call)
{
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
    TkError e = {};
    int r = check_serial_conflict(t, call, &e);
    if (r >= 0)
        r = guard_check(call->op, &t->info, call->force, t->module->pcsc_backed, &e);
    if (r < 0) {
        reply_tk_error(call->message, &e);
        return;
    }
    r = sd_bus_message_new_method_return(call->message, &reply);
    if (r >= 0)
        r = append_empty_result(reply, call->op->result);
    if (r >= 0)
        r = sd_bus_send(NULL, reply, NULL);
    if (r < 0)
        log_error_errno(r, "Cannot answer a dry run on token %s: %m", t->info.serial);
}

/* polkit said yes or no. Only now is the site key read, the guards checked and the intent
 * written. */
static void on_authorized(sd_bus_message *m, int r, const sd_bus_error *error, void *userdata)
{
    _cleanup_(call_freep) Call *call = userdata;
    Context *c = call->context;
    TkError e = {};

    unlink_authorizing(call);
    Token *t = token_find(c, call->path);
    if (!t || !t->present) {
        tk_bus_reply_errorf(m, TK_ERROR_TOKEN_REMOVED,
                            "The token was removed. Insert it again and repeat.");
        return;
    }
    if (r < 0) {
        if (!call->dry_run)
            record_result(t, call, "refused", error->name);
        tk_bus_reply_error(m, error);
        return;
    }
    if (call->dry_run)
        return reply_dry_run(t, call);
    /* The caller's own SO PIN wins over the derived one. */
    r = check_serial_conflict(t, call, &e);
    if (r < 0)
        return finish_with_tk_error(t, call, "refused", &e);
    if (uses_derived_so_pin(t, call) && (r = derive_so_pin(t, &call->derived_so_pin, &e)) < 0)
        return finish_with_tk_error(t, call, "refused", &e);
    r = guard_check(call->op, &t->info, call->force, t->module->pcsc_backed, &e);
    if (r < 0)
        return finish_with_tk_error(t, call, "refused", &e);
    if (operation_audited(call->op)) {
        r = store_audit_ready(c->store, &e);
        if (r < 0)
            return finish_with_tk_error(t, call, "refused", &e);
        TkAuditRecord rec = call_record(t, call);
        r = audit_intent(c->config.audit_file, call->op, &rec, &call->intent_seq, &e);
        if (r < 0) {
            reply_tk_error(m, &e);
            return;
        }
        store_audit_forward(c->store);
    }

    Call **tail = &t->queue;
    while (*tail)
        tail = &(*tail)->next;
    *tail = TAKE_PTR(call);
    call_dispatch(t);
}

/* A call refused before polkit: answered, and logged (refusal-log.h) but not recorded. */
static int refuse(Context *c, sd_bus_message *m, const Operation *op, const TkError *e)
{
    _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
    uid_t uid = UID_INVALID;
    pid_t pid = 0;
    uint64_t now = 0;
    if (sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID | SD_BUS_CREDS_PID, &creds) >= 0) {
        (void)sd_bus_creds_get_euid(creds, &uid);
        (void)sd_bus_creds_get_pid(creds, &pid);
    }
    (void)sd_event_now(c->event, CLOCK_MONOTONIC, &now);
    refusal_log(&c->refusals, now, sd_bus_message_get_member(m), op, uid, pid, e);
    return reply_tk_error(m, e);
}

int call_start(sd_bus_message *m, Token *t, sd_bus_error *error)
{
    Context *c = t->context;
    _cleanup_(call_freep) Call *call = NULL;
    const Operation *op = NULL;
    Options o = {};
    TkError e = {};
    int r;

    sd_bus_message_sensitive(m);
    r = arguments_read(m, sd_bus_message_get_member(m), &op, &e);
    if (r < 0)
        return refuse(c, m, op, &e);
    r = options_read(m, op, &o, &e);
    if (r >= 0)
        r = check_options(t, op, &o, &e);
    bool force = o.force, so_pin_given = o.so_pin, dry_run = o.dry_run;
    _cleanup_free_ char *request = o.request ? strdup(o.request) : NULL;
    options_done(&o);
    if (r < 0)
        return refuse(c, m, op, &e);

    const char *sender = sd_bus_message_get_sender(m);
    if (calls_of_sender(t, sender) >= CALLS_PER_CALLER_MAX) {
        tk_error_set(&e, -EBUSY, TK_ERROR_BUSY,
                     "You already have %d calls waiting for this token. Wait for them to finish, "
                     "then repeat.",
                     CALLS_PER_CALLER_MAX);
        return refuse(c, m, op, &e);
    }

    call = calloc(1, sizeof(Call));
    if (!call)
        return -ENOMEM;
    *call = (Call){
        .context = c,
        .message = sd_bus_message_ref(m),
        .op = op,
        .path = strdup(t->path),
        .sender = sender ? strdup(sender) : NULL,
        .uid = UID_INVALID,
        .request = TAKE_PTR(request),
        .force = force,
        .so_pin_given = so_pin_given,
        .dry_run = dry_run,
    };
    if (!call->path || (sender && !call->sender))
        return -ENOMEM;
    _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
    if (sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID | SD_BUS_CREDS_PID, &creds) >= 0) {
        (void)sd_bus_creds_get_euid(creds, &call->uid);
        (void)sd_bus_creds_get_pid(creds, &call->pid);
    }

    Call *waiting = TAKE_PTR(call);
    waiting->next = c->authorizing;
    c->authorizing = waiting;
    r = authorize_check(m, op, waiting->uid, on_authorized, waiting);
    if (r < 0) {
        unlink_authorizing(waiting);
        call_free(waiting);
        return r;
    }
    return 1;
}

/* The running call is over (replied to or failed): take it off the queue, run the next. */
static void call_done(Token *t)
{
    Call *call = t->queue;
    t->running_slot = sd_bus_slot_unref(t->running_slot);
    t->running = false;
    t->timed_out = false;
    ledger_release(t);
    if (call) {
        t->queue = call->next;
        token_emit_progress(t, call->op->name, "done");
        call_free(call);
    }
    token_emit_busy(t);
    call_dispatch(t);
}

void call_fail_running(Token *t, const char *message)
{
    if (!t->running || !t->queue)
        return;
    ledger_count_outcome(t, t->queue->op, TK_ERROR_FAILED);
    finish_with_error(t, t->queue, "failed", TK_ERROR_FAILED, "%s", message);
    call_done(t);
}

void call_fail_queue(Token *t)
{
    /* The running call's card answer is lost with the token; the calls after it never left. */
    if (t->running && t->queue)
        ledger_count_outcome(t, t->queue->op, TK_ERROR_TOKEN_REMOVED);
    ledger_release(t);
    while (t->queue) {
        Call *call = t->queue;
        finish_with_error(t, call, "failed", TK_ERROR_TOKEN_REMOVED,
                          "The token %s was removed. Insert it again and repeat.", t->info.serial);
        t->queue = call->next;
        call_free(call);
    }
    t->running_slot = sd_bus_slot_unref(t->running_slot);
    t->running = false;
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
        /* The worker's own errors come typed; anything else (NoReply, Disconnected) means the
         * worker itself failed. */
        if (tk_error_name_is_known(e->name)) {
            ledger_count_outcome(t, call->op, e->name);
            record_result(t, call, "failed", e->name);
            tk_bus_reply_error(call->message, e);
        } else {
            /* The worker died, hung or broke the protocol: fail this call only, and start a
             * fresh worker for the next one. */
            uint64_t now = 0, limit = call_timeout_usec(t->context, call->op);
            sd_event_now(t->context->event, CLOCK_MONOTONIC, &now);
            bool timeout =
                sd_bus_error_has_name(e, SD_BUS_ERROR_NO_REPLY) && now >= t->started_usec + limit;
            ledger_count_outcome(t, call->op, timeout ? TK_ERROR_TIMEOUT : TK_ERROR_FAILED);
            if (timeout)
                finish_with_error(t, call, "failed", TK_ERROR_TIMEOUT,
                                  "%s did not finish within its limit of %" PRIu64
                                  " seconds; tokend ended the token's worker, and the operation "
                                  "may not have completed. Check the token and try again.",
                                  call->op->member, limit / 1000000);
            else
                finish_with_error(t, call, "failed", TK_ERROR_FAILED,
                                  "The token's worker process stopped during the operation; it "
                                  "may not have completed. Check the token and try again.");
            log_error("Worker for token %s failed: %s", t->info.serial,
                      e->message ? e->message : e->name);
            t->timed_out = true;
            /* Nothing more goes to this worker: queued calls wait for its successor. */
            t->worker_lost = true;
            worker_kill(t->worker);
        }
    } else {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *out = NULL;
        ledger_count_outcome(t, call->op, NULL);
        if (record_result(t, call, "ok", NULL) < 0) {
            tk_bus_reply_errorf(call->message, TK_ERROR_FAILED,
                                "The operation was done, but the audit trail could not "
                                "be written. Tell the administrator.");
            call_done(t);
            return 0;
        }
        r = sd_bus_message_new_method_return(call->message, &out);
        if (r >= 0)
            r = sd_bus_message_copy(out, reply, true);
        if (r >= 0)
            r = sd_bus_send(NULL, out, NULL);
        if (r < 0)
            log_error_errno(r, "Cannot forward reply for token %s: %m", t->info.serial);
    }
    call_done(t);
    return 0;
}

/* Copies the call's arguments, adding the derived SO PIN to its options. */
static int copy_with_so_pin(sd_bus_message *fwd, Call *call)
{
    sd_bus_message *m = call->message;
    unsigned leading = streq(call->op->member, "Initialize") ? 1 : 0;
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
    if (!call->sender)
        return true;
    int r = sd_bus_get_name_creds(t->context->bus, call->sender, 0, &creds);
    return r >= 0 || (r != -ENXIO && r != -ESRCH && r != -ENOENT);
}

/* Takes the calls at the head of the queue that may not run: their caller left, or the token's
 * state changed while they waited so that a guard now refuses them. */
static void drop_unrunnable(Token *t)
{
    while (!t->running && t->queue) {
        Call *call = t->queue;
        TkError e = {};
        if (!caller_connected(t, call))
            record_result(t, call, "failed", "Disconnected");
        else if (check_serial_conflict(t, call, &e) < 0 || ledger_check_call(t, call->op, &e) < 0 ||
                 guard_check(call->op, &t->info, call->force, t->module->pcsc_backed, &e) < 0) {
            ledger_release(t);
            finish_with_tk_error(t, call, "refused", &e);
        } else
            return;
        t->queue = call->next;
        call_free(call);
    }
}

void call_dispatch(Token *t)
{
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *fwd = NULL;
    Call *call;
    int r;

    if (t->running || !t->worker || t->worker_lost)
        return;
    drop_unrunnable(t);
    call = t->queue;
    if (!call)
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
                              call_timeout_usec(t->context, call->op));
    if (r < 0) {
        finish_with_error(t, call, "failed", TK_ERROR_FAILED, "Cannot reach the token's worker: %s",
                          strerror(-r));
        t->running = true;
        call_done(t);
        return;
    }
    t->running = true;
    sd_event_now(t->context->event, CLOCK_MONOTONIC, &t->started_usec);
    token_emit_busy(t);
    token_emit_progress(t, call->op->name, "started");
}
