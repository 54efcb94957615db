/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Readers and cards as PC/SC reports them: reader objects come and go, a card inserted starts
 * its reader's scanners (discovery.c), and a card pulled takes its reader's tokens at once. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "log.h"
#include "pcsc-monitor.h"
#include "worker-protocol.h"

Reader *reader_find(Context *c, const char *name)
{
    for (Reader *rd = c->readers; rd; rd = rd->next)
        if (streq(rd->name, name))
            return rd;
    return NULL;
}

Reader *reader_find_slot(Context *c, const char *slot_description)
{
    for (Reader *rd = c->readers; rd; rd = rd->next)
        if (tk_slot_names_reader(slot_description, rd->name))
            return rd;
    return NULL;
}

static void readers_changed(Context *c)
{
    sd_bus_emit_properties_changed(c->bus, TOKEND_ROOT_PATH, TOKEND_MANAGER_IFACE, "Readers", NULL);
}

static void reader_add(Context *c, const char *name)
{
    if (reader_find(c, name))
        return;
    Reader *rd = calloc(1, sizeof(Reader));
    if (!rd)
        return;
    rd->context = c;
    rd->name = strdup(name);
    if (!rd->name || sd_bus_path_encode(TOKEND_READER_PREFIX, name, &rd->path) < 0) {
        free(rd->name);
        free(rd);
        return;
    }
    Reader **tail = &c->readers;
    while (*tail)
        tail = &(*tail)->next;
    *tail = rd;
    c->readers_changed = true;
    sd_bus_emit_object_added(c->bus, rd->path);
    readers_changed(c);
}

static void reader_remove(Context *c, const char *name)
{
    for (Reader **p = &c->readers; *p; p = &(*p)->next)
        if (streq((*p)->name, name)) {
            Reader *rd = *p;
            *p = rd->next;
            discovery_card_left(rd);
            sd_bus_emit_object_removed(c->bus, rd->path);
            readers_changed(c);
            free(rd->name);
            free(rd->path);
            free(rd);
            return;
        }
}

static void handle(Context *c, const TkPcscEvent *ev)
{
    Reader *rd;

    switch (ev->type) {
    case TK_PCSC_READER_ADDED:
        reader_add(c, ev->reader);
        break;
    case TK_PCSC_READER_REMOVED:
        reader_remove(c, ev->reader);
        inventory_card_left(c, ev->reader);
        break;
    case TK_PCSC_CARD_INSERTED:
    case TK_PCSC_CARD_REMOVED:
        reader_add(c, ev->reader);
        rd = reader_find(c, ev->reader);
        if (rd) {
            rd->card_present = ev->type == TK_PCSC_CARD_INSERTED;
            rd->atr_len = !rd->card_present               ? 0
                          : ev->atr_len < sizeof(rd->atr) ? ev->atr_len
                                                          : sizeof(rd->atr);
            memcpy(rd->atr, ev->atr, rd->atr_len);
            sd_bus_emit_properties_changed(c->bus, rd->path, TOKEND_READER_IFACE, "CardPresent",
                                           "Atr", NULL);
        }
        if (ev->type == TK_PCSC_CARD_REMOVED) {
            if (rd)
                discovery_card_left(rd);
            inventory_card_left(c, ev->reader);
        } else if (rd)
            /* Another card, or the same one back, before its scanner is gone: it looks again. */
            for (Scanner *sc = rd->scanners; sc; sc = sc->next)
                scanner_rescan(sc);
        break;
    case TK_PCSC_SERVICE_LOST:
        log_notice("pcscd went away; waiting for it to come back");
        break;
    case TK_PCSC_SERVICE_BACK:
        log_info("pcscd is back");
        discovery_rescan(c);
        break;
    }
}

static int on_pcsc(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
    Context *c = userdata;
    TkPcscEvent ev;
    int r;

    while ((r = tk_pcsc_monitor_next(c->pcsc, &ev)) > 0)
        handle(c, &ev);
    if (r < 0) {
        log_warning_errno(r, "The PC/SC monitor stopped: %m; smart cards are now found by polling");
        c->pcsc_source = sd_event_source_disable_unref(c->pcsc_source);
        c->pcsc = tk_pcsc_monitor_stop(c->pcsc);
        discovery_stop(c);
        return 0;
    }
    /* After the whole batch: a scanner started for a card then hides every reader reported
     * with it. */
    discovery_sync(c);
    return 0;
}

int pcsc_watch_start(Context *c)
{
    TkError e = {};
    int r = tk_pcsc_monitor_start(&c->pcsc, &e);
    if (r < 0) {
        log_warning_errno(r, "Cannot watch PC/SC readers: %s", e.message);
        return r;
    }
    r = sd_event_add_io(c->event, &c->pcsc_source, tk_pcsc_monitor_fd(c->pcsc), EPOLLIN, on_pcsc,
                        c);
    if (r < 0) {
        c->pcsc = tk_pcsc_monitor_stop(c->pcsc);
        return r;
    }
    return 0;
}

void pcsc_watch_stop(Context *c)
{
    c->pcsc_source = sd_event_source_disable_unref(c->pcsc_source);
    c->pcsc = tk_pcsc_monitor_stop(c->pcsc);
}

void pcsc_watch_tokens_changed(Context *c)
{
    for (Reader *rd = c->readers; rd; rd = rd->next)
        sd_bus_emit_properties_changed(c->bus, rd->path, TOKEND_READER_IFACE, "Token", NULL);
}
