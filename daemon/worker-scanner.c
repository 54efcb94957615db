/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tokend-worker --scan: polls one module's slots (one reader's, with --reader), by the interval
 * or when tokend asks with Rescan, and reports the tokens it finds to tokend in Tokens
 * signals. */
#include <errno.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "time-util.h"
#include "worker-main.h"
#include "worker-protocol.h"

/* Loads the module afresh for every poll: SoftHSM2 (like other file-backed modules) reads
 * its token directory only in C_Initialize, so a token made by another process would never
 * appear in a module instance that stays loaded. */
static int send_tokens(sd_bus *bus, const char *module_path, const char *reader)
{
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *s = NULL;
    _cleanup_(tk_module_freep) TkModule *module = NULL;
    TkTokenInfo *infos = NULL;
    size_t n = 0;
    TkError e = {};
    int r = tk_module_load(module_path, &module, &e);
    if (r >= 0)
        r = tk_module_list_tokens(module, &infos, &n, &e);
    /* tokend logs a failure once, when the module's state changes, not every poll. */
    const char *error = r < 0 ? (e.message[0] ? e.message : "listing the tokens failed") : "";
    if (r < 0)
        n = 0;
    r = sd_bus_message_new_signal(bus, &s, WORKER_PATH, WORKER_INTERFACE, "Tokens");
    if (r >= 0)
        r = sd_bus_message_open_container(s, 'a', "a{sv}");
    for (size_t i = 0; r >= 0 && i < n; i++)
        if (!reader || tk_slot_names_reader(infos[i].slot_description, reader))
            r = worker_append_info(s, &infos[i], NULL);
    if (r >= 0)
        r = sd_bus_message_close_container(s);
    if (r >= 0)
        r = sd_bus_message_append(s, "s", error);
    if (r >= 0)
        r = sd_bus_send(bus, s, NULL);
    tk_token_info_array_free(infos, n);
    return r;
}

typedef struct Scanner {
    const char *module_path;
    const char *reader;
    uint64_t interval_usec;
    uint64_t next;
} Scanner;

static int method_rescan(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
    Scanner *s = userdata;
    s->next = 0;
    return sd_bus_reply_method_return(m, NULL);
}

/* Open to the one peer, tokend, as the token worker's methods are (worker-token.c). */
static const sd_bus_vtable scanner_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("Rescan", "", "", method_rescan, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_SIGNAL("Tokens", "aa{sv}s", 0),
    SD_BUS_VTABLE_END,
};

int worker_scan(sd_bus *bus, const char *module_path, const char *reader, uint64_t interval_usec,
                unsigned call_timeout_sec)
{
    Scanner s = {.module_path = module_path, .reader = reader, .interval_usec = interval_usec};
    int r = sd_bus_add_object_vtable(bus, NULL, WORKER_PATH, WORKER_INTERFACE, scanner_vtable, &s);
    if (r < 0)
        return r;
    for (;;) {
        if (tk_now_usec(CLOCK_MONOTONIC) >= s.next) {
            /* A module stuck in C_GetSlotList would freeze its inventory: the scanner ends
             * instead, and tokend starts another. */
            alarm(call_timeout_sec);
            r = send_tokens(bus, s.module_path, s.reader);
            alarm(0);
            if (r < 0)
                return r == -ECONNRESET || r == -ENOTCONN ? 0 : r;
            s.next =
                s.interval_usec > 0 ? tk_now_usec(CLOCK_MONOTONIC) + s.interval_usec : UINT64_MAX;
        }
        r = sd_bus_process(bus, NULL);
        if (r < 0)
            return r == -ECONNRESET || r == -ENOTCONN ? 0 : r;
        if (r > 0)
            continue;
        uint64_t n = tk_now_usec(CLOCK_MONOTONIC);
        r = sd_bus_wait(bus, s.next == UINT64_MAX ? UINT64_MAX : s.next > n ? s.next - n : 0);
        if (r < 0)
            return r;
    }
}
