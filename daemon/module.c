/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A configured PKCS#11 module and its scanners (the module's own, or one per reader with a card
 * for a PC/SC-backed module): started, watched and restarted, with the module's state as the
 * Manager's Modules property shows it. A scanner that reports nothing for its poll interval and
 * the scanner timeout (stopped, or stuck in the module) is killed and restarted; every change of
 * a module's state is logged once, not every poll. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
static uint64_t report_deadline_usec(const Scanner *s)
{
    const Context *c = s->module->context;
    uint64_t interval = (uint64_t)(s->reader ? 10 : 1) * c->scan_interval_ms * 1000u;
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

/* "its scanner" or "the scanner of reader R", for the module's state. */
static void scanner_name(const Scanner *s, char *buf, size_t size)
{
    if (s->reader)
        snprintf(buf, size, "the scanner of reader %s", s->reader->name);
    else
        snprintf(buf, size, "its scanner");
}

static int on_watchdog(sd_event_source *es, uint64_t usec, void *userdata)
{
    Scanner *s = userdata;
    char name[300], what[400];
    s->watchdog = sd_event_source_disable_unref(s->watchdog);
    scanner_name(s, name, sizeof(name));
    snprintf(what, sizeof(what), "%s reported nothing for %llu s and was restarted", name,
             (unsigned long long)(report_deadline_usec(s) / 1000000u));
    set_state(s->module, MODULE_NOT_RESPONDING, what);
    /* The exit callback follows and starts the next scanner. */
    worker_kill(s->worker);
    return 0;
}

static void arm_watchdog(Scanner *s)
{
    s->watchdog = sd_event_source_disable_unref(s->watchdog);
    if (sd_event_add_time_relative(s->module->context->event, &s->watchdog, CLOCK_MONOTONIC,
                                   report_deadline_usec(s), 0, on_watchdog, s) < 0)
        log_warning("Module %s: cannot watch its scanner", s->module->path);
}

void module_report(Scanner *s, const char *error)
{
    arm_watchdog(s);
    if (isempty(error))
        set_state(s->module, MODULE_OK, NULL);
    else
        set_state(s->module, MODULE_FAILING, error);
}

static int scanner_spawn(Scanner *s);
static int on_respawn(sd_event_source *es, uint64_t usec, void *userdata);

/* A new scanner in 2 s: a module that fails at once is not started in a tight loop. */
static void schedule_respawn(Scanner *s)
{
    (void)sd_event_add_time_relative(s->module->context->event, &s->respawn, CLOCK_MONOTONIC,
                                     2000000, 0, on_respawn, s);
}

static int on_respawn(sd_event_source *es, uint64_t usec, void *userdata)
{
    Scanner *s = userdata;
    s->respawn = sd_event_source_disable_unref(s->respawn);
    int r = scanner_spawn(s);
    if (r < 0) {
        char name[300], what[400];
        scanner_name(s, name, sizeof(name));
        snprintf(what, sizeof(what), "%s cannot be started (%s)", name, strerror(-r));
        set_state(s->module, MODULE_FAILING, what);
        /* Tried again, as a scanner that stopped would be. */
        schedule_respawn(s);
    }
    return 0;
}

static void on_scanner_exit(Worker *w, const char *how, void *userdata)
{
    Scanner *s = userdata;
    s->worker = worker_free(s->worker);
    s->watchdog = sd_event_source_disable_unref(s->watchdog);
    if (s->module->state != MODULE_NOT_RESPONDING) {
        char name[300], what[400];
        scanner_name(s, name, sizeof(name));
        snprintf(what, sizeof(what), "%s stopped (%s) and is restarted", name, how);
        set_state(s->module, MODULE_FAILING, what);
    }
    schedule_respawn(s);
}

/* A reader's scanner sees that reader alone: its OpenSC configuration hides every other one,
 * so that it binds no other card (and meets no cap on the cards one OpenSC process serves). */
static int scanner_spawn(Scanner *s)
{
    Module *m = s->module;
    Context *c = m->context;
    _cleanup_free_ char *conf = NULL;
    char interval[32], timeout[32];
    int r;

    if (s->reader) {
        r = opensc_conf_text(c, s->reader->name, &conf);
        if (r < 0)
            return r;
    }
    /* A reader's scanner lists its slots when PC/SC says its card came or pcscd is back, and
     * on a slow timer only as a safety net (a card personalised by another program, say). */
    snprintf(interval, sizeof(interval), "%u",
             s->reader ? 10 * c->scan_interval_ms : c->scan_interval_ms);
    /* A poll stuck in the module ends the scanner by its own timer too, where tokend cannot
     * signal it (a socket-activated scanner). */
    snprintf(timeout, sizeof(timeout), "%llu",
             (unsigned long long)(c->scanner_timeout_usec / 1000000u + 1));
    char *argv[] = {"--module",
                    m->path,
                    "--scan",
                    "--interval-ms",
                    interval,
                    "--call-timeout",
                    timeout,
                    s->reader ? "--reader" : NULL,
                    s->reader ? s->reader->name : NULL,
                    NULL};
    /* Named by the reader's object: a reader has one scanner per module, and the configuration
     * does not depend on the module. */
    _cleanup_free_ char *name = NULL;
    if (s->reader && asprintf(&name, "scan-%s", strrchr(s->reader->path, '/') + 1) < 0)
        return -ENOMEM;
    r = opensc_worker_start(c, argv, conf, name, on_scanner_exit, s, &s->worker);
    if (r < 0)
        return r;
    r = sd_bus_match_signal(worker_bus(s->worker), NULL, NULL, WORKER_PATH, WORKER_INTERFACE,
                            "Tokens", inventory_on_tokens, s);
    if (r < 0)
        return r;
    arm_watchdog(s);
    return 0;
}

int scanner_new(Module *m, Reader *rd, Scanner **ret)
{
    Scanner *s = calloc(1, sizeof(Scanner));
    if (!s)
        return -ENOMEM;
    s->module = m;
    s->reader = rd;
    int r = scanner_spawn(s);
    if (r < 0) {
        scanner_free(s);
        return r;
    }
    *ret = s;
    return 0;
}

Scanner *scanner_free(Scanner *s)
{
    if (!s)
        return NULL;
    s->respawn = sd_event_source_disable_unref(s->respawn);
    s->watchdog = sd_event_source_disable_unref(s->watchdog);
    s->found = sd_event_source_disable_unref(s->found);
    worker_free(s->worker);
    free(s);
    return NULL;
}

void scanner_rescan(Scanner *s)
{
    if (s && s->worker)
        sd_bus_call_method_async(worker_bus(s->worker), NULL, NULL, WORKER_PATH, WORKER_INTERFACE,
                                 "Rescan", NULL, NULL, "");
}

int module_start(Module *m)
{
    if (!m->on_demand)
        return scanner_new(m, NULL, &m->scanner);
    /* Its scanners start with the cards; the main process does not load the module, but a
     * missing file is told at once rather than at the first card. */
    if (access(m->path, R_OK) < 0) {
        char what[128];
        snprintf(what, sizeof(what), "the module cannot be read (%s)", strerror(errno));
        set_state(m, MODULE_FAILING, what);
    } else
        set_state(m, MODULE_OK, NULL);
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
    scanner_free(m->scanner);
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
