/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tokend's retry ledger, which the main process alone reads and writes: the state directory is
 * made and checked at start; the ledger's count of failed SO PIN/PUK attempts is added to what
 * a token's worker or scanner reports; the outcome of each call that the operation table says
 * it counts is written when tokend hears it; an unblock that depends on the ledger is refused
 * while the ledger cannot be written; and the count is handed to the token's worker, which
 * checks the final-try rule with it once more. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "context.h"
#include "log.h"
#include "retry-ledger.h"
#include "store.h"

/* How often counts that other stations share are read again, for the tokens' properties: the
 * final-try check reads them afresh anyway. */
#define LEDGER_REFRESH_USEC (2 * 1000000ull)

int ledger_start(Context *c)
{
    TkError e = {};
    if (mkdir(c->state_dir, 0700) < 0 && errno != EEXIST)
        return log_error_errno(errno, "Cannot create the state directory %s: %m", c->state_dir);
    int r = store_open(&c->config, c->state_dir, &c->store, &e);
    /* A shared store that cannot be reached now may be later (store_pg_open() said so), and
     * only the unblocks that depend on it need it. */
    if (r >= 0 && !c->store->ops->shared)
        r = store_ledger_check(c->store, &e);
    if (r < 0)
        return log_error_errno(r,
                               "%s. tokend does not start without its retry ledger, which guards "
                               "the unblocks of cards whose PUK counter cannot be read.",
                               e.message);
    return 0;
}

void ledger_stop(Context *c)
{
    c->ledger_refresh = sd_event_source_disable_unref(c->ledger_refresh);
    c->store = store_free(c->store);
}

/* The failures the ledger reckons with for the token (tk_ledger_failures()), with what it could
 * not take yet. A ledger that cannot be read is logged when it starts failing and when it works
 * again, not at every report. */
static int ledger_count(Token *t, int *ret)
{
    Context *c = t->context;
    TkLedgerCount count;
    int r = store_ledger_get(c->store, t->info.serial, &count);
    if (r < 0) {
        if (r != c->ledger_error)
            log_error_errno(r, "Cannot read the retry ledger %s: %m", c->store->ledger_name);
        c->ledger_error = r;
        return r;
    }
    if (c->ledger_error)
        log_info("The retry ledger %s can be read again", c->store->ledger_name);
    c->ledger_error = 0;
    if (t->ledger_unsaved.reset)
        count = tk_ledger_count_next(count, TK_LEDGER_SUCCESS);
    for (unsigned i = 0; i < t->ledger_unsaved.failures; i++)
        count = tk_ledger_count_next(count, TK_LEDGER_FAILED);
    for (unsigned i = 0; i < t->ledger_unsaved.unknown; i++)
        count = tk_ledger_count_next(count, TK_LEDGER_UNKNOWN);
    *ret = tk_ledger_failures(count, t->worker_retries.so_max_tries);
    return 0;
}

/* The card's counters count only while the worker that read them is there. */
static const TkCardRetries *card_retries(const Token *t)
{
    return t->worker ? &t->worker_retries.card : NULL;
}

/* info's SO side is as the flags give it. */
static bool so_from_ledger(const Token *t, const TkTokenInfo *info)
{
    return tk_retries_so_from_ledger(info, card_retries(t), t->module->pcsc_backed,
                                     t->worker_retries.so_max_tries);
}

void ledger_add_counts(Token *t, TkTokenInfo *info)
{
    int failed = -1;
    t->so_flags = (SoCount){info->so_pin_state, info->so_pin_retries, info->so_pin_retries_source};
    if (so_from_ledger(t, info) && ledger_count(t, &failed) < 0)
        failed = -1;
    tk_token_info_apply_retries(info, card_retries(t), t->module->pcsc_backed, failed,
                                t->worker_retries.so_max_tries);
}

void token_report_info(Token *t, TkTokenInfo *info, const WorkerRetries *retries)
{
    /* The serial is the object's name: a report of another one is not this token's. */
    if (!streq_ptr(info->serial, t->info.serial)) {
        tk_token_info_done(info);
        return;
    }
    if (retries)
        t->worker_retries = *retries;
    ledger_add_counts(t, info);
    token_update_info(t, info);
}

/* The ledger changed: the cached counts are taken again from what the reports said. */
static void recount(Token *t)
{
    TkTokenInfo before = t->info;
    t->info.so_pin_state = t->so_flags.state;
    t->info.so_pin_retries = t->so_flags.retries;
    t->info.so_pin_retries_source = t->so_flags.source;
    ledger_add_counts(t, &t->info);
    /* before shares the strings: only the counts can differ. */
    if (!worker_info_equal(&before, &t->info))
        sd_bus_emit_properties_changed(t->context->bus, t->path, TOKEND_TOKEN_IFACE, "SoPinState",
                                       "SoPinRetries", "SoPinRetriesSource", "UserPinState",
                                       "UserPinRetries", "UserPinRetriesSource", "HasPuk",
                                       "PukState", "PukRetries", "PukRetriesSource", NULL);
}

/* Writes the outcomes not written yet, oldest first; what could not be written stays. */
static int save_unsaved(Token *t)
{
    Context *c = t->context;
    LedgerUnsaved *u = &t->ledger_unsaved;
    int r;
    if (u->reset) {
        r = store_ledger_record(c->store, t->info.serial, TK_LEDGER_SUCCESS);
        if (r < 0)
            return r;
        u->reset = false;
    }
    for (; u->failures > 0; u->failures--) {
        r = store_ledger_record(c->store, t->info.serial, TK_LEDGER_FAILED);
        if (r < 0)
            return r;
    }
    for (; u->unknown > 0; u->unknown--) {
        r = store_ledger_record(c->store, t->info.serial, TK_LEDGER_UNKNOWN);
        if (r < 0)
            return r;
    }
    return 0;
}

static bool unsaved(const Token *t)
{
    return t->ledger_unsaved.reset || t->ledger_unsaved.failures > 0 ||
           t->ledger_unsaved.unknown > 0;
}

void ledger_count_outcome(Token *t, const Operation *op, const char *error_name)
{
    Context *c = t->context;
    TkLedgerOutcome outcome;
    if (!operation_ledger_outcome(op, error_name, &outcome))
        return;
    /* A reset makes every earlier failure moot, written or not. */
    if (outcome == TK_LEDGER_SUCCESS)
        t->ledger_unsaved = (LedgerUnsaved){.reset = true};
    else if (outcome == TK_LEDGER_FAILED)
        t->ledger_unsaved.failures++;
    else
        t->ledger_unsaved.unknown++;
    int r = save_unsaved(t);
    if (r < 0)
        log_error_errno(r,
                        "Cannot write the retry ledger %s: %m. The %s of token %s is counted "
                        "in memory until it can; unblocks that depend on it are refused.",
                        c->store->ledger_name,
                        outcome == TK_LEDGER_SUCCESS  ? "reset"
                        : outcome == TK_LEDGER_FAILED ? "failed attempt"
                                                      : "attempt whose answer was lost",
                        t->info.serial);
    recount(t);
    ledger_tell_worker(t);
}

/* Whether the final-try guard knows this token's SO PIN/PUK count from the ledger alone. A
 * token that unblocks with a PUK depends on it until its worker has said otherwise. */
static bool depends_on_ledger(const Token *t)
{
    if (t->worker_retries.so_max_tries == 0)
        return t->module->pcsc_backed;
    TkTokenInfo flags = {.so_pin_retries_source = t->so_flags.source};
    return so_from_ledger(t, &flags);
}

int ledger_check_call(Token *t, const Operation *op, TkError *e)
{
    Context *c = t->context;
    TkError why = {};
    int r;

    if (op->ledger != LEDGER_JUDGED || !depends_on_ledger(t))
        return 0;
    if (unsaved(t)) {
        r = save_unsaved(t);
        if (r < 0)
            tk_error_set(&why, r, TK_ERROR_FAILED, "Cannot write the retry ledger %s: %s",
                         c->store->ledger_name, strerror(-r));
    } else
        r = store_ledger_check(c->store, &why);
    /* Held from here to the outcome: the count that the guards and the worker judge by stays
     * the count, whatever other stations do meanwhile. */
    if (r >= 0)
        r = store_ledger_hold(c->store, t->info.serial, &why);
    if (r == -EBUSY) {
        log_warning("Refusing to unblock token %s: %s", t->info.serial, why.message);
        return tk_error_set(e, r, TK_ERROR_FAILED, "%s.", why.message);
    }
    /* The guards that follow, and the worker's, judge by the ledger as it is now. */
    if (r >= 0) {
        recount(t);
        ledger_tell_worker(t);
    }
    if (r < 0) {
        const char *so = t->module->pcsc_backed ? "PUK" : "SO PIN";
        log_error("Refusing to unblock token %s: %s", t->info.serial, why.message);
        return tk_error_set(e, r, TK_ERROR_FAILED,
                            "%s. tokend counts this token's %s tries only there, so it does not "
                            "unblock the token now: a wrong %s would go uncounted. Tell the "
                            "administrator.",
                            why.message, so, so);
    }
    return 0;
}

void ledger_tell_worker(Token *t)
{
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
    int failed;
    /* A ledger that cannot be read leaves the worker with the count it has, its own included. */
    if (!t->worker || ledger_count(t, &failed) < 0)
        return;
    /* The worker handles its messages in order: the count is there before the next call. */
    int r = sd_bus_message_new_method_call(worker_bus(t->worker), &m, NULL, WORKER_PATH,
                                           WORKER_INTERFACE, "SetLedger");
    if (r >= 0)
        r = sd_bus_message_set_expect_reply(m, 0);
    if (r >= 0)
        r = sd_bus_message_append(m, "i", (int32_t)failed);
    if (r >= 0)
        r = sd_bus_send(NULL, m, NULL);
    if (r < 0)
        log_warning_errno(r, "Cannot hand the retry ledger's count to the worker of token %s: %m",
                          t->info.serial);
}

void ledger_release(Token *t)
{
    if (t->context->store && t->info.serial)
        store_ledger_release(t->context->store, t->info.serial);
}

static int on_refresh(sd_event_source *s, uint64_t usec, void *userdata)
{
    Context *c = userdata;
    /* The audit lines written while the database was away, or a history too long for one
     * round, go on to it. */
    store_audit_forward(c->store);
    for (Token *t = c->tokens; t; t = t->next) {
        if (!t->present || t->running || !depends_on_ledger(t))
            continue;
        /* What the database missed while it was away reaches the other stations as soon as it
         * is back, not only with this station's next unblock. */
        if (unsaved(t) && save_unsaved(t) >= 0)
            log_info("The retry ledger %s has the outcomes of token %s that it missed",
                     c->store->ledger_name, t->info.serial);
        recount(t);
    }
    /* A time source fires once: it is set again and enabled for the next round. */
    int r = sd_event_source_set_time_relative(s, LEDGER_REFRESH_USEC);
    if (r >= 0)
        r = sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
    if (r < 0)
        log_warning_errno(r, "Cannot read the shared retry ledger's counts again: %m");
    return 0;
}

int ledger_watch(Context *c)
{
    if (!c->store->ops->shared)
        return 0;
    return sd_event_add_time_relative(c->event, &c->ledger_refresh, CLOCK_MONOTONIC,
                                      LEDGER_REFRESH_USEC, 0, on_refresh, c);
}
