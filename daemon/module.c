/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A configured PKCS#11 module and its scanner: started, watched and restarted, with the module's
 * state as the Manager's Modules property shows it. A scanner that reports nothing for its poll
 * interval and the scanner timeout (stopped, or stuck in the module) is killed and restarted;
 * every change of a module's state is logged once, not every poll. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "log.h"
#include "worker-protocol.h"

static const char *const state_names[] = {
    [MODULE_STARTING] = "starting",
    [MODULE_OK] = "ok",
    [MODULE_FAILING] = "failing",
    [MODULE_NOT_RESPONDING] = "not-responding",
};

/* How long a scanner may go without a report: its poll interval, and the time a poll may take
 * (a slow OpenSC listing of many cards takes seconds). */
static uint64_t report_deadline_usec(const Module *m)
{
    const Context *c = m->context;
    uint64_t interval = (uint64_t)(m->on_demand ? 10 : 1) * c->scan_interval_ms * 1000u;
    return interval + c->scanner_timeout_usec;
}

static void set_state(Module *m, ModuleState state, const char *error)
{
    error = strempty(error);
    if (m->state == state && streq_ptr(m->error, error))
        return;
    ModuleState old = m->state;
    char *e = strdup(error);
    if (!e)
        return;
    free(m->error);
    m->error = e;
    m->state = state;
    if (state == MODULE_OK && old != MODULE_STARTING)
        log_notice("Module %s: tokens are listed again", m->path);
    else if (state != MODULE_OK && state != MODULE_STARTING)
        log_warning("Module %s: %s%s%s", m->path, state_names[state], *error ? ": " : "", error);
    sd_bus_emit_properties_changed(m->context->bus, TOKEND_ROOT_PATH, TOKEND_MANAGER_IFACE,
                                   "Modules", NULL);
}

static int on_watchdog(sd_event_source *s, uint64_t usec, void *userdata)
{
    Module *m = userdata;
    char what[128];
    m->watchdog = sd_event_source_disable_unref(m->watchdog);
    snprintf(what, sizeof(what), "its scanner reported nothing for %llu s and was restarted",
             (unsigned long long)(report_deadline_usec(m) / 1000000u));
    set_state(m, MODULE_NOT_RESPONDING, what);
    /* The exit callback follows and starts the next scanner. */
    worker_kill(m->scanner);
    return 0;
}

static void arm_watchdog(Module *m)
{
    m->watchdog = sd_event_source_disable_unref(m->watchdog);
    if (sd_event_add_time_relative(m->context->event, &m->watchdog, CLOCK_MONOTONIC,
                                   report_deadline_usec(m), 0, on_watchdog, m) < 0)
        log_warning("Module %s: cannot watch its scanner", m->path);
}

void module_report(Module *m, const char *error)
{
    arm_watchdog(m);
    if (isempty(error))
        set_state(m, MODULE_OK, NULL);
    else
        set_state(m, MODULE_FAILING, error);
}

static int on_respawn(sd_event_source *s, uint64_t usec, void *userdata);

/* A new scanner in 2 s: a module that fails at once is not started in a tight loop. */
static void schedule_respawn(Module *m)
{
    (void)sd_event_add_time_relative(m->context->event, &m->respawn, CLOCK_MONOTONIC, 2000000, 0,
                                     on_respawn, m);
}

static int on_respawn(sd_event_source *s, uint64_t usec, void *userdata)
{
    Module *m = userdata;
    m->respawn = sd_event_source_disable_unref(m->respawn);
    int r = module_start_scanner(m);
    if (r < 0) {
        char what[128];
        snprintf(what, sizeof(what), "its scanner cannot be started (%s)", strerror(-r));
        set_state(m, MODULE_FAILING, what);
        /* Tried again, as a scanner that stopped would be. */
        schedule_respawn(m);
    }
    return 0;
}

static void on_scanner_exit(Worker *w, const char *how, void *userdata)
{
    Module *m = userdata;
    m->scanner = worker_free(m->scanner);
    m->watchdog = sd_event_source_disable_unref(m->watchdog);
    if (m->state != MODULE_NOT_RESPONDING) {
        char what[128];
        snprintf(what, sizeof(what), "its scanner stopped (%s) and is restarted", how);
        set_state(m, MODULE_FAILING, what);
    }
    schedule_respawn(m);
}

int module_start_scanner(Module *m)
{
    Context *c = m->context;
    char interval[32], timeout[32];
    /* With PC/SC watched, an OpenSC scanner lists slots when a card or reader changes, and on a
     * slow timer only as a safety net: loading OpenSC binds every card. */
    snprintf(interval, sizeof(interval), "%u",
             m->on_demand ? 10 * c->scan_interval_ms : c->scan_interval_ms);
    /* A poll stuck in the module ends the scanner by its own timer too, where tokend cannot
     * signal it (a socket-activated scanner). */
    snprintf(timeout, sizeof(timeout), "%llu",
             (unsigned long long)(c->scanner_timeout_usec / 1000000u + 1));
    char *argv[] = {"--module", m->path,          "--scan", "--interval-ms",
                    interval,   "--call-timeout", timeout,  NULL};
    int r = c->worker_socket ? worker_connect(c->event, c->worker_socket, argv, NULL,
                                              on_scanner_exit, m, &m->scanner)
                             : worker_spawn(c->event, c->worker_path, argv, NULL, on_scanner_exit,
                                            m, &m->scanner);
    if (r < 0)
        return r;
    r = sd_bus_match_signal(worker_bus(m->scanner), NULL, NULL, WORKER_PATH, WORKER_INTERFACE,
                            "Tokens", inventory_on_tokens, m);
    if (r < 0)
        return r;
    arm_watchdog(m);
    return 0;
}

int module_new(Context *c, const char *path, bool pcsc_backed, bool on_demand, Module **ret)
{
    Module *m = calloc(1, sizeof(Module));
    if (!m)
        return -ENOMEM;
    m->context = c;
    m->path = strdup(path);
    m->error = strdup("");
    if (!m->path || !m->error) {
        module_free(m);
        return -ENOMEM;
    }
    m->pcsc_backed = pcsc_backed;
    m->on_demand = on_demand;
    m->state = MODULE_STARTING;
    *ret = m;
    return 0;
}

Module *module_free(Module *m)
{
    if (!m)
        return NULL;
    m->respawn = sd_event_source_disable_unref(m->respawn);
    m->watchdog = sd_event_source_disable_unref(m->watchdog);
    worker_free(m->scanner);
    free(m->path);
    free(m->error);
    free(m);
    return NULL;
}

int module_append_states(sd_bus_message *reply, Context *c)
{
    int r = sd_bus_message_open_container(reply, 'a', "(sss)");
    for (Module *m = c->modules; r >= 0 && m; m = m->next)
        r = sd_bus_message_append(reply, "(sss)", m->path, state_names[m->state], m->error);
    if (r >= 0)
        r = sd_bus_message_close_container(reply);
    return r;
}
