/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A token's worker process: started with its own OpenSC configuration, watched, replaced when
 * it stops. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "log.h"
#include "worker-protocol.h"

/* Relays the worker's progress and keeps the cache current. */
static int on_worker_signal(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
    Token *t = userdata;
    if (sd_bus_message_is_signal(m, WORKER_INTERFACE, "Progress")) {
        const char *op, *stage;
        if (sd_bus_message_read(m, "ss", &op, &stage) >= 0)
            token_emit_progress(t, op, stage);
    } else if (sd_bus_message_is_signal(m, WORKER_INTERFACE, "Info")) {
        TkTokenInfo info;
        WorkerRetries retries;
        if (worker_read_info(m, &info, &retries) < 0)
            return 0;
        /* The card answers to another serial (personalised afresh): its reader is looked at
         * again, and the new token found there. */
        if (!streq_ptr(info.serial, t->info.serial) && t->module->on_demand)
            discovery_look_again(t->context, t->info.slot_description);
        token_report_info(t, &info, &retries);
    }
    return 0;
}

static int on_respawn(sd_event_source *s, uint64_t usec, void *userdata)
{
    Token *t = userdata;
    t->respawn = sd_event_source_disable_unref(t->respawn);
    if (t->present && !t->worker) {
        int r = token_spawn_worker(t);
        if (r < 0)
            log_error_errno(r, "Cannot start a worker for token %s", t->info.serial);
    }
    call_dispatch(t);
    return 0;
}

static void on_worker_exit(Worker *w, const char *how, void *userdata)
{
    Token *t = userdata;
    if (!t->timed_out)
        log_warning("Worker for token %s stopped (%s)", t->info.serial, how);
    /* The worker goes first, so that the queue waits for its successor. */
    t->running_slot = sd_bus_slot_unref(t->running_slot);
    t->worker = worker_free(t->worker);
    t->worker_lost = false;
    if (t->running && t->queue) {
        char message[256];
        snprintf(message, sizeof(message),
                 t->timed_out ? "The token did not finish the operation in time and was reset. "
                                "Check the token and try again."
                              : "The token's worker process stopped during the operation (%s); "
                                "it may not have completed. Check the token and try again.",
                 how);
        call_fail_running(t, message);
    }
    t->running = false;
    t->timed_out = false;
    if (t->present && !t->respawn)
        sd_event_add_time_relative(t->context->event, &t->respawn, CLOCK_MONOTONIC, 200000, 0,
                                   on_respawn, t);
}

void worker_call_timeout(const Context *c, char *buf, size_t size)
{
    /* The worker takes each call's limit from the operation table itself; this is only the
     * ceiling over them, with the same slack. */
    snprintf(buf, size, "%" PRIu64,
             c->worker_timeout_usec > 0
                 ? c->worker_timeout_usec / 1000000u + WORKER_CALL_TIMEOUT_SLACK_SEC
                 : 0);
}

int token_spawn_worker(Token *t)
{
    Context *c = t->context;
    _cleanup_free_ char *conf = NULL;
    int r;

    if (t->module->pcsc_backed) {
        r = opensc_conf_text(c, t->info.slot_description, &conf);
        if (r < 0)
            return r;
    }
    char timeout[32];
    worker_call_timeout(c, timeout, sizeof(timeout));
    /* No state directory: the worker never sees the ledger, tokend hands it the count. */
    char *argv[] = {"--module",
                    t->module->path,
                    "--serial",
                    t->info.serial,
                    "--call-timeout",
                    timeout,
                    t->module->pcsc_backed ? "--unblock-with-puk" : NULL,
                    NULL};
    /* Named by the token's object, unique where the serial may not be. */
    r = opensc_worker_start(c, argv, conf, strrchr(t->path, '/') + 1, on_worker_exit, t,
                            &t->worker);
    if (r < 0)
        return r;
    r = sd_bus_match_signal(worker_bus(t->worker), NULL, NULL, WORKER_PATH, WORKER_INTERFACE, NULL,
                            on_worker_signal, t);
    if (r < 0)
        return r;
    ledger_tell_worker(t);
    return 0;
}
