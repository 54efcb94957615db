/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Discovery per reader: while PC/SC reports a card in a reader, that reader has a scanner of
 * its own for every PC/SC-backed module, whose OpenSC configuration hides every other reader.
 * No process lists every card through OpenSC, so none binds them all or meets the module's cap
 * on the cards one process sees (16 virtual slots, 4 a card). */
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

/* A card in rd: each PC/SC-backed module's scanner of rd lists its slots, a new one at once. */
static void reader_card_present(Context *c, Reader *rd)
{
    for (Module *m = c->modules; m; m = m->next) {
        if (!m->pcsc_backed || !m->on_demand || reader_scanner(rd, m))
            continue;
        Scanner *s;
        int r = scanner_new(m, rd, &s);
        if (r < 0) {
            log_error_errno(r, "Cannot start the scanner of reader %s: %m", rd->name);
            continue;
        }
        s->next = rd->scanners;
        rd->scanners = s;
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
