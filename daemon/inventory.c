/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The token inventory: scanner workers list their module's slots (all of them, or one reader's
 * for a PC/SC-backed module) and report what they found; tokens come and go here, each with its
 * own worker. The main process never loads a module itself. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "log.h"
#include "worker-protocol.h"

static void announce(Token *t, bool added)
{
    Context *c = t->context;
    if (added)
        sd_bus_emit_object_added(c->bus, t->path);
    else
        sd_bus_emit_object_removed(c->bus, t->path);
    sd_bus_emit_signal(c->bus, TOKEND_ROOT_PATH, TOKEND_MANAGER_IFACE,
                       added ? "TokenAdded" : "TokenRemoved", "o", t->path);
    manager_emit_tokens_changed(c);
}

/* A token is its module's slot with that serial: a serial alone names nothing, as two cards
 * may claim one (a copy, or a card made to look like another). The slot description is the
 * reader for OpenSC. */
static Token *find_token(Module *m, const TkTokenInfo *info)
{
    for (Token *t = m->context->tokens; t; t = t->next)
        if (t->module == m && streq_ptr(t->info.serial, info->serial) &&
            streq_ptr(t->info.slot_description, info->slot_description))
            return t;
    return NULL;
}

/* Marks every token whose serial another present token shares, and says so when that
 * changes. */
static void update_serial_conflicts(Context *c)
{
    for (Token *t = c->tokens; t; t = t->next) {
        bool conflict = false;
        for (Token *o = c->tokens; o && !conflict; o = o->next)
            conflict = o != t && o->present && streq_ptr(o->info.serial, t->info.serial);
        if (conflict == t->serial_conflict)
            continue;
        t->serial_conflict = conflict;
        if (conflict)
            log_warning("Token %s (%s) reports the same serial as another present token; its SO "
                        "PIN/PUK is not derived until one of them leaves",
                        t->info.serial, strempty(t->info.slot_description));
        sd_bus_emit_properties_changed(c->bus, t->path, TOKEND_TOKEN_IFACE, "SerialConflict", NULL);
    }
}

/* The token is listed at once; its worker starts once the whole poll is in, so that a
 * PC/SC-backed worker's configuration hides every reader seen in that poll. */
static Token *token_add(Module *m, TkTokenInfo *info)
{
    Context *c = m->context;
    Token *t;
    if (token_new(c, m, info, &t) < 0) {
        tk_token_info_done(info);
        return NULL;
    }
    t->next = c->tokens;
    c->tokens = t;
    announce(t, true);
    return t;
}

static void start_worker(Token *t)
{
    int r = token_spawn_worker(t);
    if (r < 0)
        log_error_errno(r, "Cannot start a worker for token %s: %m", t->info.serial);
}

/* OpenSC reads ignored_readers once, when a worker loads it: when a reader comes (or, without
 * PC/SC watched, the set of PC/SC tokens changes), idle PC/SC workers are restarted with a fresh
 * configuration, so none binds a card that another worker owns. A busy one is left to finish;
 * it is restarted on the next change or when it exits. */
void inventory_refresh_pcsc_workers(Context *c)
{
    for (Token *t = c->tokens; t; t = t->next) {
        if (!t->module->pcsc_backed || !t->present || t->running || t->queue)
            continue;
        t->worker = worker_free(t->worker);
        start_worker(t);
    }
}

static void token_drop(Token *t)
{
    Context *c = t->context;
    for (Token **p = &c->tokens; *p; p = &(*p)->next)
        if (*p == t) {
            *p = t->next;
            break;
        }
    token_remove(t);
    sd_bus_emit_object_removed(c->bus, t->path);
    sd_bus_emit_signal(c->bus, TOKEND_ROOT_PATH, TOKEND_MANAGER_IFACE, "TokenRemoved", "o",
                       t->path);
    manager_emit_tokens_changed(c);
    token_free(t);
}

/* Whether token t is one of those that scanner s lists: its module's, and its reader's for a
 * reader's scanner. */
static bool scanner_covers(const Scanner *s, const Token *t)
{
    return t->module == s->module &&
           (!s->reader || tk_slot_names_reader(t->info.slot_description, s->reader->name));
}

int inventory_on_tokens(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
    Scanner *s = userdata;
    Module *mod = s->module;
    Context *c = mod->context;
    bool changed = false;
    int r;

    /* The failure of the poll, if any, follows the tokens: Tokens(aa{sv} tokens, s error). */
    r = sd_bus_message_skip(m, "aa{sv}");
    const char *error = NULL;
    if (r >= 0)
        r = sd_bus_message_read(m, "s", &error);
    if (r >= 0)
        r = sd_bus_message_rewind(m, true);
    if (r < 0)
        return 0;
    module_report(s, error);
    r = sd_bus_message_enter_container(m, 'a', "a{sv}");
    if (r < 0)
        return 0;
    for (Token *t = c->tokens; t; t = t->next)
        if (scanner_covers(s, t))
            t->listed = false;
    for (;;) {
        TkTokenInfo info;
        r = sd_bus_message_at_end(m, false);
        if (r != 0)
            break;
        r = worker_read_info(m, &info, NULL);
        if (r < 0)
            return 0;
        /* A slot with no initialised token (SoftHSM2's free slot) has no serial to name an
         * object by; it appears once initialised. */
        if (isempty(info.serial) || !info.initialized) {
            tk_token_info_done(&info);
            continue;
        }
        /* A reader's scanner speaks for its reader alone (its configuration could not hide a
         * reader whose name is part of its own). */
        if (s->reader && !tk_slot_names_reader(info.slot_description, s->reader->name)) {
            tk_token_info_done(&info);
            continue;
        }
        /* PC/SC, which tokend watches, says the card is out of that reader; a poll that raced
         * with the pull may still list it. */
        Reader *rd = mod->pcsc_backed ? reader_find_slot(c, info.slot_description) : NULL;
        if (rd && !rd->card_present && c->pcsc) {
            tk_token_info_done(&info);
            continue;
        }
        Token *t = find_token(mod, &info);
        if (t && t->listed) {
            /* The module listed one slot twice: the first entry stands. */
            tk_token_info_done(&info);
            continue;
        }
        if (!t) {
            t = token_add(mod, &info);
            if (!t)
                continue;
            changed = true;
        } else
            /* The flags only: the card's counters from the token's worker stand. */
            token_report_info(t, &info, NULL);
        t->listed = true;
        t->missed = 0;
    }

    bool all_listed = true, any = false;
    for (Token *t = c->tokens, *next; t; t = next) {
        next = t->next;
        if (!scanner_covers(s, t))
            continue;
        if (t->listed) {
            any = true;
            continue;
        }
        /* A file-backed module can miss a token that another process is writing at that moment
         * (SoftHSM2 while a worker changes it): a token goes only when two polls in a row miss
         * it and no call is running on it. */
        if (++t->missed >= (mod->on_demand ? 1u : 2u) && !t->running) {
            token_drop(t);
            changed = true;
        } else
            all_listed = false;
    }
    if (any && all_listed)
        discovery_token_found(s);
    update_serial_conflicts(c);

    /* With PC/SC watched, a worker's configuration already hides every reader PC/SC knows:
     * only a new reader needs fresh ones (discovery_sync). */
    if (changed && mod->pcsc_backed && !mod->on_demand) {
        inventory_refresh_pcsc_workers(c);
        pcsc_watch_tokens_changed(c);
    } else {
        if (changed && mod->pcsc_backed)
            pcsc_watch_tokens_changed(c);
        for (Token *t = c->tokens; t; t = t->next)
            if (!t->worker && !t->respawn)
                start_worker(t);
    }
    return 0;
}

void inventory_card_left(Context *c, const char *reader)
{
    bool changed = false;
    for (Token *t = c->tokens, *next; t; t = next) {
        next = t->next;
        if (!t->module->pcsc_backed || !tk_slot_names_reader(t->info.slot_description, reader))
            continue;
        /* Whatever its worker is doing: a call running there fails with TokenRemoved (the
         * card may have done part of it), rather than the token staying listed until the
         * scanner and the call are both done. */
        if (t->running)
            log_notice("Token %s left reader %s during an operation", t->info.serial, reader);
        token_drop(t);
        changed = true;
    }
    if (!changed)
        return;
    update_serial_conflicts(c);
    pcsc_watch_tokens_changed(c);
}

int inventory_start(Context *c)
{
    Module **tail = &c->modules;
    bool watching = false;

    STRV_FOREACH (p, c->config.modules)
        if (strstr(*p, "opensc-pkcs11"))
            watching = true;
    /* Without pcscd (or its library failing) PC/SC-backed modules are polled like the rest. */
    if (watching)
        watching = pcsc_watch_start(c) >= 0;

    STRV_FOREACH (p, c->config.modules) {
        /* OpenSC drives smart cards through PC/SC: the card's reader names the token's worker
         * and its PUK unblocks the PIN. Any other module is polled and unblocks with the SO
         * PIN (C_InitPIN). */
        bool pcsc_backed = strstr(*p, "opensc-pkcs11") != NULL;
        Module *m;
        int r = module_new(c, *p, pcsc_backed, pcsc_backed && watching, &m);
        if (r < 0)
            return r;
        *tail = m;
        tail = &m->next;
        r = module_start(m);
        if (r < 0)
            return r;
    }
    return 0;
}

void inventory_stop(Context *c)
{
    pcsc_watch_stop(c);
    while (c->tokens) {
        Token *t = c->tokens;
        c->tokens = t->next;
        token_free(t);
    }
    while (c->modules) {
        Module *m = c->modules;
        c->modules = m->next;
        module_free(m);
    }
    while (c->readers) {
        Reader *rd = c->readers;
        c->readers = rd->next;
        discovery_card_left(rd);
        free(rd->name);
        free(rd->path);
        free(rd);
    }
}
