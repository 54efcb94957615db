/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Discovery per reader: when PC/SC reports a card in a reader, that reader gets a scanner of its
 * own for every PC/SC-backed module, whose OpenSC configuration hides every other reader. No
 * process lists every card through OpenSC, so none binds them all or meets the module's cap on
 * the cards one process sees (16 virtual slots, 4 a card). Once the scanner has found the
 * reader's token, the token's worker (which hides the other readers too) is the one process on
 * that card and the scanner stops: its polls would bind the card under the worker's calls. A
 * card with no token (not personalised) keeps its scanner, polling now and then. */
#include <stdlib.h>

#include "context.h"
#include "log.h"

static Scanner *reader_scanner(Reader *rd, Module *m)
{
    for (Scanner *s = rd->scanners; s; s = s->next)
        if (s->module == m)
            return s;
    return NULL;
}

static bool reader_has_token(Context *c, Reader *rd, Module *m)
{
    for (Token *t = c->tokens; t; t = t->next)
        if (t->module == m && tk_slot_names_reader(t->info.slot_description, rd->name))
            return true;
    return false;
}

static void reader_start_scanner(Reader *rd, Module *m)
{
    Scanner *s;
    int r = scanner_new(m, rd, &s);
    if (r < 0) {
        log_error_errno(r, "Cannot start the scanner of reader %s: %m", rd->name);
        return;
    }
    s->next = rd->scanners;
    rd->scanners = s;
}

/* A card in rd: each PC/SC-backed module with no token there yet gets a scanner of rd, which
 * lists its slots at once. */
static void reader_card_present(Context *c, Reader *rd)
{
    for (Module *m = c->modules; m; m = m->next) {
        if (!m->pcsc_backed || !m->on_demand || reader_scanner(rd, m) || reader_has_token(c, rd, m))
            continue;
        reader_start_scanner(rd, m);
    }
}

static void reader_drop_scanner(Reader *rd, Scanner *s)
{
    for (Scanner **p = &rd->scanners; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            scanner_free(s);
            return;
        }
}

/* Off the scanner's own bus callback, which found the token. */
static int on_found(sd_event_source *es, void *userdata)
{
    Scanner *s = userdata;
    s->found = sd_event_source_disable_unref(s->found);
    reader_drop_scanner(s->reader, s);
    return 0;
}

void discovery_token_found(Scanner *s)
{
    if (!s->reader || s->found)
        return;
    if (sd_event_add_defer(s->module->context->event, &s->found, on_found, s) < 0)
        log_warning("Reader %s: its scanner cannot be stopped; it goes on polling",
                    s->reader->name);
}

void discovery_look_again(Context *c, const char *slot_description)
{
    Reader *rd = reader_find_slot(c, slot_description);
    if (!rd || !rd->card_present)
        return;
    for (Module *m = c->modules; m; m = m->next) {
        if (!m->pcsc_backed || !m->on_demand)
            continue;
        Scanner *s = reader_scanner(rd, m);
        if (s) {
            s->found = sd_event_source_disable_unref(s->found);
            scanner_rescan(s);
            continue;
        }
        reader_start_scanner(rd, m);
    }
}

void discovery_card_left(Reader *rd)
{
    while (rd->scanners) {
        Scanner *s = rd->scanners;
        rd->scanners = s->next;
        scanner_free(s);
    }
}

void discovery_sync(Context *c)
{
    if (c->readers_changed) {
        c->readers_changed = false;
        /* OpenSC reads ignored_readers once, when it is loaded: workers and scanners that
         * started before the reader came would bind its card. Busy workers finish first. */
        inventory_refresh_pcsc_workers(c);
        for (Reader *rd = c->readers; rd; rd = rd->next)
            discovery_card_left(rd);
    }
    for (Reader *rd = c->readers; rd; rd = rd->next)
        if (rd->card_present)
            reader_card_present(c, rd);
}

void discovery_rescan(Context *c)
{
    for (Reader *rd = c->readers; rd; rd = rd->next)
        for (Scanner *s = rd->scanners; s; s = s->next)
            scanner_rescan(s);
}

void discovery_stop(Context *c)
{
    for (Reader *rd = c->readers; rd; rd = rd->next)
        discovery_card_left(rd);
    for (Module *m = c->modules; m; m = m->next) {
        if (!m->on_demand)
            continue;
        m->on_demand = false;
        int r = module_start(m);
        if (r < 0)
            log_error_errno(r, "Cannot start the scanner of module %s: %m", m->path);
    }
}
