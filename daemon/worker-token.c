/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tokend-worker for one token: org.tokend.Worker1's methods (Info, ListObjects,
 * GenerateKeyPair, CreateRequest, ImportCertificate, ChangePin, UnblockPin, Initialize,
 * DeleteObject), each read by the operation table's row, checked against the token's own
 * counters and tokend's ledger count, run through libtoken and followed by the token's fresh
 * info; and SetLedger, by which tokend hands over that count. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus-error.h"
#include "card-init.h"
#include "guard.h"
#include "log.h"
#include "options.h"
#include "retries.h"
#include "retry-ledger.h"
#include "token-retries.h"
#include "worker-main.h"
#include "worker-protocol.h"

/* The token's info with retry counts from the best source, tokend's ledger count included. */
static int token_info(WorkerContext *w, TkTokenInfo *ret, TkError *e)
{
    return tk_token_get_info_with_retries(w->token, w->unblock_with_puk, w->ledger_failed, ret, e);
}

/* What the worker tells tokend: the counts as the flags give them and the card's own, but not
 * the ledger's, which tokend adds itself from the file it alone reads. */
static int append_info_facts(WorkerContext *w, sd_bus_message *m, TkTokenInfo *ret_info,
                             WorkerRetries *ret_retries, TkError *e)
{
    int r = tk_token_get_retry_facts(w->token, w->unblock_with_puk, ret_info, &ret_retries->card,
                                     &ret_retries->so_max_tries, e);
    if (r < 0)
        return r;
    return worker_append_info(m, ret_info, ret_retries);
}

static int reply_tk_error(sd_bus_message *m, const TkError *e, int r)
{
    return tk_bus_reply_tk_error(m, e, r);
}

static int emit_progress(WorkerContext *w, const char *operation, const char *stage)
{
    int r = sd_bus_emit_signal(w->bus, WORKER_PATH, WORKER_INTERFACE, "Progress", "ss", operation,
                               stage);
    if (r >= 0)
        r = sd_bus_flush(w->bus);
    return r;
}

/* Which secret a call spends, for telling the caller how many tries it has left. */
typedef enum Spends {
    SPENDS_USER_PIN,
    SPENDS_UNBLOCK, /* the PUK, or the SO PIN where there is no PUK */
    SPENDS_SO_PIN,  /* the SO PIN itself, also on a card with a PUK (Initialize) */
    SPENDS_OTHER,
} Spends;

/* The secret a call spent, as libtoken words the tries it has left. */
static TkSecretSpent secret_spent(const WorkerContext *w, Spends spends)
{
    return spends == SPENDS_USER_PIN                         ? TK_SPENT_USER_PIN
           : spends == SPENDS_UNBLOCK && w->unblock_with_puk ? TK_SPENT_PUK
                                                             : TK_SPENT_SO_PIN;
}

/* Sends the token's current info; done before every reply, so that a wrong PIN's new retry
 * state reaches the main process before the caller hears of it. A PinIncorrect error e gets
 * the tries left from that info and the ledger count. */
static int emit_info(WorkerContext *w, Spends spends, TkError *e)
{
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *s = NULL;
    TkTokenInfo info = {};
    WorkerRetries retries;
    TkError info_error = {};
    int r = sd_bus_message_new_signal(w->bus, &s, WORKER_PATH, WORKER_INTERFACE, "Info");
    if (r >= 0)
        r = append_info_facts(w, s, &info, &retries, &info_error);
    if (r >= 0)
        r = sd_bus_send(w->bus, s, NULL);
    if (r >= 0 && e && spends != SPENDS_OTHER) {
        tk_token_info_apply_retries(&info, &retries.card, w->unblock_with_puk, w->ledger_failed,
                                    retries.so_max_tries);
        /* The ledger does not count Initialize's wrong SO PIN (LEDGER_RESET): only the card's
         * own counter can say its tries left. */
        if (spends != SPENDS_SO_PIN || info.so_pin_retries_source == TK_RETRIES_CARD)
            tk_pin_incorrect_with_tries(&info, secret_spent(w, spends), e);
    }
    tk_token_info_done(&info);
    return r;
}

/* Reads the options by the operation table's row, and checks the final-try rule with the
 * token's own counters before the secret is presented: tokend checked its cache, but the card
 * knows best. */
static int begin(sd_bus_message *m, WorkerContext *w, const Operation *op, Options *o, TkError *e)
{
    sd_bus_message_sensitive(m);
    int r = options_read(m, op, o, e);
    if (r >= 0)
        r = options_check_required(op, o, false, e);
    if (r < 0)
        return r;
    if (op->presents != SECRET_NONE) {
        TkTokenInfo info = {};
        r = token_info(w, &info, e);
        if (r >= 0)
            r = guard_check(op, &info, o->force, w->unblock_with_puk, e);
        tk_token_info_done(&info);
        if (r < 0)
            return r;
    }
    emit_progress(w, op->name, "running");
    return 0;
}

static int finish(sd_bus_message *m, WorkerContext *w, int r, Spends spends, TkError *e)
{
    emit_info(w, spends, r < 0 ? e : NULL);
    if (r < 0)
        return reply_tk_error(m, e, r);
    return 0;
}

static int method_info(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
    WorkerContext *w = userdata;
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
    TkTokenInfo info = {};
    WorkerRetries retries;
    TkError e = {};
    int r = sd_bus_message_new_method_return(m, &reply);
    if (r < 0)
        return r;
    r = append_info_facts(w, reply, &info, &retries, &e);
    tk_token_info_done(&info);
    if (r < 0)
        return tk_error_is_set(&e) ? reply_tk_error(m, &e, r) : r;
    return sd_bus_send(NULL, reply, NULL);
}

/* tokend's ledger count, sent when the worker starts and after every change, always before the
 * next call: the final-try check in begin() needs it, and only tokend reads the ledger. It is
 * no Token method, so no caller of tokend reaches it, and the worker has no peer but tokend. */
static int method_set_ledger(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
    WorkerContext *w = userdata;
    int32_t failed;
    int r = sd_bus_message_read(m, "i", &failed);
    if (r < 0)
        return r;
    if (failed < -1)
        return tk_bus_reply_errorf(m, TK_ERROR_INVALID_ARGUMENT,
                                   "A count of failed attempts is -1 (none) or more.");
    w->ledger_failed = failed;
    return sd_bus_reply_method_return(m, NULL);
}

/* tokend counts the call's outcome in its ledger when it hears it and then says the new count;
 * counting it here the same way meanwhile lets a wrong PUK's message give the tries left after
 * it. */
static void count_outcome(WorkerContext *w, const Operation *op, int r, const TkError *e)
{
    TkLedgerOutcome outcome;
    /* A lost answer is tokend's to reckon with: it knows every such attempt of the token's. */
    if (operation_ledger_outcome(op, r < 0 ? e->name : NULL, &outcome) &&
        outcome != TK_LEDGER_UNKNOWN)
        w->ledger_failed = tk_ledger_next(w->ledger_failed, outcome == TK_LEDGER_SUCCESS);
}

/* One {sv} entry whose value is an ay. */
static int append_bytes_entry(sd_bus_message *m, const char *key, const void *p, size_t n)
{
    int r = sd_bus_message_open_container(m, 'e', "sv");
    if (r >= 0)
        r = sd_bus_message_append(m, "s", key);
    if (r >= 0)
        r = sd_bus_message_open_container(m, 'v', "ay");
    if (r >= 0)
        r = sd_bus_message_append_array(m, 'y', p, n);
    if (r >= 0)
        r = sd_bus_message_close_container(m);
    if (r >= 0)
        r = sd_bus_message_close_container(m);
    return r;
}

static int append_object(sd_bus_message *m, const TkObject *o)
{
    int r = sd_bus_message_open_container(m, 'a', "{sv}");
    if (r < 0)
        return r;
    r = sd_bus_message_append(m, "{sv}", "class", "s", tk_object_class_to_string(o->object_class));
    if (r >= 0)
        r = append_bytes_entry(m, "id", o->id, o->id_len);
    if (r >= 0 && o->label)
        r = sd_bus_message_append(m, "{sv}", "label", "s", o->label);
    if (r >= 0 && tk_key_type_to_string(o->key_type))
        r = sd_bus_message_append(m, "{sv}", "key-type", "s", tk_key_type_to_string(o->key_type));
    if (r >= 0 && o->bits > 0)
        r = sd_bus_message_append(m, "{sv}", "bits", "u", (uint32_t)o->bits);
    if (r >= 0 && o->curve)
        r = sd_bus_message_append(m, "{sv}", "curve", "s", o->curve);
    if (r >= 0 && o->public_key)
        r = append_bytes_entry(m, "public-key", o->public_key, o->public_key_len);
    if (r >= 0 && o->object_class == TK_OBJECT_CERTIFICATE) {
        if (o->subject)
            r = sd_bus_message_append(m, "{sv}", "subject", "s", o->subject);
        if (r >= 0 && o->issuer)
            r = sd_bus_message_append(m, "{sv}", "issuer", "s", o->issuer);
        if (r >= 0 && o->serial)
            r = sd_bus_message_append(m, "{sv}", "serial", "s", o->serial);
        if (r >= 0)
            r = sd_bus_message_append(m, "{sv}{sv}{sv}", "not-before", "t", o->not_before,
                                      "not-after", "t", o->not_after, "ca", "b", o->ca);
    }
    if (r < 0)
        return r;
    return sd_bus_message_close_container(m);
}

static int method_list_objects(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
    WorkerContext *w = userdata;
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
    Options o = {};
    TkError e = {};
    TkObject *objects = NULL;
    size_t n = 0;

    const Operation *op;
    int r = options_list_objects_row(m, &op);
    if (r < 0)
        return r;
    r = begin(m, w, op, &o, &e);
    if (r >= 0)
        r = tk_token_list_objects(w->token, o.pin, &objects, &n, &e);
    options_done(&o);
    if (r < 0)
        return finish(m, w, r, SPENDS_USER_PIN, &e);
    emit_info(w, SPENDS_OTHER, NULL);
    r = sd_bus_message_new_method_return(m, &reply);
    if (r >= 0)
        r = sd_bus_message_open_container(reply, 'a', "a{sv}");
    for (size_t i = 0; r >= 0 && i < n; i++)
        r = append_object(reply, &objects[i]);
    if (r >= 0)
        r = sd_bus_message_close_container(reply);
    tk_object_array_free(objects, n);
    if (r < 0)
        return r;
    return sd_bus_send(NULL, reply, NULL);
}

static int method_generate_key_pair(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
    WorkerContext *w = userdata;
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
    _cleanup_free_ uint8_t *id = NULL;
    _cleanup_free_ char *pem = NULL;
    size_t id_len = 0;
    Options o = {};
    TkError e = {};
    TkKeySpec spec;
    const char *type;

    int r = sd_bus_message_read(m, "s", &type);
    if (r < 0)
        return r;
    if (tk_key_spec_from_string(type, &spec) < 0)
        return tk_bus_reply_errorf(m, TK_ERROR_INVALID_ARGUMENT, "Unknown key type \"%s\".", type);
    r = begin(m, w, operation_find("GenerateKeyPair", NULL), &o, &e);
    if (r >= 0)
        r = tk_token_generate_key(w->token, o.pin, spec, o.label, o.id, o.id_len, &id, &id_len,
                                  &pem, &e);
    options_done(&o);
    finish(m, w, r, SPENDS_USER_PIN, &e);
    if (r < 0)
        return 0;
    r = sd_bus_message_new_method_return(m, &reply);
    if (r >= 0)
        r = sd_bus_message_append_array(reply, 'y', id, id_len);
    if (r >= 0)
        r = sd_bus_message_append(reply, "s", pem);
    if (r < 0)
        return r;
    return sd_bus_send(NULL, reply, NULL);
}

/* Reads an "ay" argument into a buffer of the caller's, never NULL even when it is empty. */
static int read_bytes(sd_bus_message *m, uint8_t **ret, size_t *ret_len)
{
    const void *p;
    size_t len;
    int r = sd_bus_message_read_array(m, 'y', &p, &len);
    if (r < 0)
        return r;
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, p, len);
    *ret = copy;
    *ret_len = len;
    return 0;
}

static int method_create_request(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
    WorkerContext *w = userdata;
    _cleanup_free_ char *pem = NULL;
    _cleanup_free_ uint8_t *id = NULL;
    size_t id_len;
    const char *subject;
    Options o = {};
    TkError e = {};

    int r = read_bytes(m, &id, &id_len);
    if (r < 0)
        return r;
    r = sd_bus_message_read(m, "s", &subject);
    if (r < 0)
        return r;
    _cleanup_free_ char *subj = strdup(subject);
    if (!subj)
        return -ENOMEM;
    r = begin(m, w, operation_find("CreateRequest", NULL), &o, &e);
    if (r >= 0)
        r = tk_token_create_request(w->token, o.pin, id, id_len, subj, o.email, o.dns, &pem, &e);
    options_done(&o);
    finish(m, w, r, SPENDS_USER_PIN, &e);
    if (r < 0)
        return 0;
    return sd_bus_reply_method_return(m, "s", pem);
}

static int method_import_certificate(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
    WorkerContext *w = userdata;
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
    _cleanup_free_ uint8_t *cert = NULL, *id = NULL;
    size_t len, id_len = 0;
    Options o = {};
    TkError e = {};

    int r = read_bytes(m, &cert, &len);
    if (r < 0)
        return r;
    r = begin(m, w, operation_find("ImportCertificate", NULL), &o, &e);
    if (r >= 0)
        r = tk_token_import_certificate(w->token, o.pin, cert, len, o.chain, o.n_chain, &id,
                                        &id_len, &e);
    options_done(&o);
    finish(m, w, r, SPENDS_USER_PIN, &e);
    if (r < 0)
        return 0;
    r = sd_bus_message_new_method_return(m, &reply);
    if (r >= 0)
        r = sd_bus_message_append_array(reply, 'y', id, id_len);
    if (r < 0)
        return r;
    return sd_bus_send(NULL, reply, NULL);
}

static int method_change_pin(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
    WorkerContext *w = userdata;
    const char *who;
    Options o = {};
    TkError e = {};

    int r = sd_bus_message_read(m, "s", &who);
    if (r < 0)
        return r;
    const Operation *op = operation_find("ChangePin", who);
    if (!op)
        return tk_bus_reply_errorf(m, TK_ERROR_INVALID_ARGUMENT,
                                   "Say whose PIN to change: \"user\" or \"so\".");
    TkUserType type = streq(who, "so") ? TK_SO : TK_USER;
    r = begin(m, w, op, &o, &e);
    if (r >= 0)
        r = tk_token_change_pin(w->token, type, o.pin, o.new_pin, &e);
    options_done(&o);
    finish(m, w, r, type == TK_USER ? SPENDS_USER_PIN : SPENDS_OTHER, &e);
    return r < 0 ? 0 : sd_bus_reply_method_return(m, NULL);
}

static int method_unblock_pin(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
    WorkerContext *w = userdata;
    Options o = {};
    TkError e = {};

    const Operation *op = operation_find("UnblockPin", NULL);
    int r = begin(m, w, op, &o, &e);
    if (r >= 0)
        r = w->unblock_with_puk ? tk_token_unblock_pin(w->token, o.so_pin, o.new_pin, &e)
                                : tk_token_init_pin(w->token, o.so_pin, o.new_pin, &e);
    count_outcome(w, op, r, &e);
    options_done(&o);
    finish(m, w, r, SPENDS_UNBLOCK, &e);
    return r < 0 ? 0 : sd_bus_reply_method_return(m, NULL);
}

static int method_initialize(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
    WorkerContext *w = userdata;
    const char *label;
    Options o = {};
    TkError e = {};

    int r = sd_bus_message_read(m, "s", &label);
    if (r < 0)
        return r;
    _cleanup_free_ char *l = strdup(label);
    if (!l)
        return -ENOMEM;
    const Operation *op = operation_find("Initialize", NULL);
    r = begin(m, w, op, &o, &e);
    if (r >= 0)
        /* Cards whose PINs carry a PUK (OpenSC over PC/SC) are personalised with OpenSC's
         * pkcs15-init, which gives the PUK its full count again. */
        r = w->unblock_with_puk ? tk_card_initialize(w->module_path, &w->module, &w->token,
                                                     &w->serial, o.so_pin, l, o.new_pin, &e)
                                : tk_token_initialize(w->token, o.so_pin, l, o.new_pin, &e);
    count_outcome(w, op, r, &e);
    options_done(&o);
    if (!w->token) {
        /* The card could not be found again: the worker has nothing left to serve, and tokend
         * starts a new one when the card is back. */
        reply_tk_error(m, &e, r);
        sd_bus_flush(w->bus);
        exit(EXIT_FAILURE);
    }
    finish(m, w, r, SPENDS_SO_PIN, &e);
    return r < 0 ? 0 : sd_bus_reply_method_return(m, NULL);
}

static int method_delete_object(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
    WorkerContext *w = userdata;
    _cleanup_free_ uint8_t *id = NULL;
    const char *class;
    size_t id_len;
    Options o = {};
    TkError e = {};

    int r = sd_bus_message_read(m, "s", &class);
    if (r < 0)
        return r;
    TkObjectClass c = streq(class, "certificate") ? TK_OBJECT_CERTIFICATE : TK_OBJECT_PRIVATE_KEY;
    r = read_bytes(m, &id, &id_len);
    if (r < 0)
        return r;
    r = begin(m, w, operation_find("DeleteObject", NULL), &o, &e);
    if (r >= 0)
        r = tk_token_delete_object(w->token, o.pin, c, id, id_len, &e);
    options_done(&o);
    finish(m, w, r, SPENDS_USER_PIN, &e);
    return r < 0 ? 0 : sd_bus_reply_method_return(m, NULL);
}

/* Every method is open to the peer: the worker's one peer is tokend, over a socketpair or the
 * worker socket that only tokend may open, and a socket-activated worker runs as a user other
 * than tokend's, whose calls sd-bus would otherwise refuse. */
static const sd_bus_vtable worker_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("Info", "", "a{sv}", method_info, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("ListObjects", "a{sv}", "aa{sv}", method_list_objects,
                  SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("GenerateKeyPair", "sa{sv}", "ays", method_generate_key_pair,
                  SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("CreateRequest", "aysa{sv}", "s", method_create_request,
                  SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("ImportCertificate", "aya{sv}", "ay", method_import_certificate,
                  SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("ChangePin", "sa{sv}", "", method_change_pin, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("UnblockPin", "a{sv}", "", method_unblock_pin, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("Initialize", "sa{sv}", "", method_initialize, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("DeleteObject", "saya{sv}", "", method_delete_object, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("SetLedger", "i", "", method_set_ledger, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_SIGNAL("Progress", "ss", 0),
    SD_BUS_SIGNAL("Info", "a{sv}", 0),
    SD_BUS_SIGNAL("Tokens", "aa{sv}s", 0),
    SD_BUS_VTABLE_END,
};

int worker_token_publish(WorkerContext *w)
{
    int r = sd_bus_add_object_vtable(w->bus, NULL, WORKER_PATH, WORKER_INTERFACE, worker_vtable, w);
    if (r < 0)
        return r;
    /* The scanner that found the token reported the PKCS#11 flags only: the card's own retry
     * counts go out at once, not only after the first call. */
    (void)emit_info(w, SPENDS_OTHER, NULL);
    return 0;
}
