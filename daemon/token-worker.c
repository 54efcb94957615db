/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A token's worker process: started with its own OpenSC configuration, watched, replaced when
 * it stops. */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "io-util.h"
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
        if (worker_read_info(m, &info, &retries) >= 0)
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

static char *escape_reader(const char *s)
{
    /* OpenSC's configuration syntax: a quoted string, so quotes and backslashes go. */
    char *out = malloc(strlen(s) + 1), *p = out;
    if (!out)
        return NULL;
    for (; *s; s++)
        if (*s != '"' && *s != '\\')
            *p++ = *s;
    *p = 0;
    return out;
}

/* OpenSC binds every card it sees: a worker's private configuration hides every other reader
 * (whole names) and makes C_SetPIN in an unlogged session send RESET RETRY COUNTER. */
static int opensc_conf_text(Token *t, char **ret)
{
    Context *c = t->context;
    _cleanup_free_ char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f)
        return -ENOMEM;
    fputs("app default {\n", f);
    bool first = true;
    for (Reader *rd = c->readers; rd; rd = rd->next) {
        if (streq_ptr(rd->name, t->info.slot_description))
            continue;
        _cleanup_free_ char *n = escape_reader(rd->name);
        fprintf(f, "%s\"%s\"", first ? "    ignored_readers = " : ", ", strempty(n));
        first = false;
    }
    for (Token *o = c->tokens; o; o = o->next) {
        if (o == t || !o->module->pcsc_backed || isempty(o->info.slot_description) ||
            streq_ptr(o->info.slot_description, t->info.slot_description))
            continue;
        _cleanup_free_ char *n = escape_reader(o->info.slot_description);
        fprintf(f, "%s\"%s\"", first ? "    ignored_readers = " : ", ", strempty(n));
        first = false;
    }
    if (!first)
        fputs(";\n", f);
    fputs("    framework pkcs15 {\n    }\n    pkcs11 {\n"
          "        user_pin_unblock_style = set_pin_in_unlogged_session;\n    }\n}\n",
          f);
    if (fclose(f) != 0)
        return -ENOMEM;
    *ret = TAKE_PTR(text);
    return 0;
}

/* A worker started by tokend reads its configuration from a file in tokend's runtime
 * directory, named by the token's object (unique where the serial may not be). */
static int write_opensc_conf(Token *t, const char *text, char **ret_path)
{
    _cleanup_free_ char *path = NULL;
    if (asprintf(&path, "%s/%s.conf", t->context->runtime_dir, strrchr(t->path, '/') + 1) < 0)
        return -ENOMEM;
    _cleanup_close_ int fd =
        open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -errno;
    int r = tk_write_all(fd, text, strlen(text));
    if (r < 0)
        return r;
    *ret_path = TAKE_PTR(path);
    return 0;
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
    _cleanup_free_ char *conf = NULL, *path = NULL, *env0 = NULL;
    int r;

    if (t->module->pcsc_backed) {
        r = opensc_conf_text(t, &conf);
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
    if (c->worker_socket)
        r = worker_connect(c->event, c->worker_socket, argv, conf, on_worker_exit, t, &t->worker);
    else {
        if (conf) {
            r = write_opensc_conf(t, conf, &path);
            if (r < 0)
                return r;
            if (asprintf(&env0, "OPENSC_CONF=%s", path) < 0)
                return -ENOMEM;
        }
        char *env[] = {env0, NULL};
        r = worker_spawn(c->event, c->worker_path, argv, env, on_worker_exit, t, &t->worker);
    }
    if (r < 0)
        return r;
    r = sd_bus_match_signal(worker_bus(t->worker), NULL, NULL, WORKER_PATH, WORKER_INTERFACE, NULL,
                            on_worker_signal, t);
    if (r < 0)
        return r;
    ledger_tell_worker(t);
    return 0;
}
