/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bus-call.h"
#include "bus-json.h"
#include "format.h"
#include "i18n.h"
#include "provision-run.h"
#include "resolve.h"
#include "time-util.h"

int jobs_tokens(Context *ctx, json_object **ret)
{
    _cleanup_json_ json_object *objects = NULL, *tokens = NULL, *chosen = json_object_new_array();
    if (!chosen)
        return fail_errno(ctx, -ENOMEM, "Cannot list tokens");
    if (ctx->n_args > 0) {
        for (size_t i = 0; i < ctx->n_args; i++) {
            json_object *t;
            int r = resolve_token(ctx, ctx->args[i], &t);
            if (r != 0)
                return r;
            for (size_t k = 0; k < json_object_array_length(chosen); k++)
                if (streq_ptr(json_get_string(json_object_array_get_idx(chosen, k), "path"),
                              json_get_string(t, "path"))) {
                    json_object_put(t);
                    return fail(ctx, CLI_ERROR_USAGE, "Token %s is named twice", ctx->args[i]);
                }
            json_object_array_add(chosen, t);
        }
        *ret = TAKE_PTR(chosen);
        return 0;
    }
    int r = fetch_objects(ctx, &objects);
    if (r != 0)
        return r;
    if (tokens_from_objects(objects, &tokens) < 0)
        return fail_errno(ctx, -ENOMEM, "Cannot list tokens");
    for (size_t i = 0; i < json_object_array_length(tokens); i++) {
        json_object *t = json_object_array_get_idx(tokens, i);
        if (!isempty(json_get_string(t, "Reader")))
            json_object_array_add(chosen, json_object_get(t));
    }
    if (json_object_array_length(chosen) == 0)
        return fail(ctx, CLI_ERROR_NO_TOKEN,
                    "No smart card is present in a reader; name the tokens to use another kind");
    *ret = TAKE_PTR(chosen);
    return 0;
}

int jobs_new(Context *ctx, json_object *tokens, const JobStep *steps, size_t n_steps, Job **ret,
             size_t *ret_n)
{
    size_t n = json_object_array_length(tokens);
    Job *jobs = calloc(n ? n : 1, sizeof(Job));
    if (!jobs)
        return fail_errno(ctx, -ENOMEM, "Cannot plan the work on the tokens");
    for (size_t i = 0; i < n; i++) {
        json_object *t = json_object_array_get_idx(tokens, i);
        jobs[i] = (Job){
            .ctx = ctx,
            .token = json_object_get(t),
            .serial = json_get_string(t, "Serial"),
            .steps = steps,
            .n_steps = n_steps,
        };
    }
    *ret = jobs;
    *ret_n = n;
    return 0;
}

void jobs_free(Job *jobs, size_t n)
{
    for (size_t i = 0; jobs && i < n; i++) {
        sd_bus_slot_unref(jobs[i].slot);
        json_object_put(jobs[i].token);
        free(jobs[i].error_name);
        free(jobs[i].error_message);
    }
    free(jobs);
}

bool job_failed(const Job *j)
{
    return j->error_name != NULL;
}

void job_fail(Job *j, const char *name, const char *fmt, ...)
{
    va_list ap;
    if (job_failed(j))
        return;
    j->error_name = strdup(name);
    va_start(ap, fmt);
    if (vasprintf(&j->error_message, _(fmt), ap) < 0)
        j->error_message = NULL;
    va_end(ap);
    j->exit_code = exit_code_for_error(name);
    j->end_usec = tk_now_usec(CLOCK_MONOTONIC);
}

void job_fail_bus(Job *j, const char *what, const sd_bus_error *error)
{
    Context words = *j->ctx;
    words.error_name = words.error_message = NULL;
    (void)fail_bus(&words, what, error);
    j->error_name = words.error_name;
    j->error_message = words.error_message;
    j->exit_code = words.exit_code;
    j->end_usec = tk_now_usec(CLOCK_MONOTONIC);
}

static bool show_progress(const Context *ctx)
{
    return !ctx->json && !ctx->quiet && isatty(STDERR_FILENO);
}

static void job_say(const Job *j, const char *text)
{
    _cleanup_free_ char *buf = NULL;
    if (show_progress(j->ctx))
        fprintf(stderr, "%s: %s\n", terminal_text(j->serial, &buf), text);
}

static int job_start_step(Job *j);

static int on_step_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
    Job *j = userdata;
    const JobStep *s = &j->steps[j->step];
    j->slot = sd_bus_slot_unref(j->slot);
    if (sd_bus_message_is_method_error(reply, NULL))
        job_fail_bus(j, s->failed, sd_bus_message_get_error(reply));
    else if (s->done && s->done(j, reply) < 0)
        job_fail(j, CLI_ERROR_FAILED, "%s: cannot read or keep tokend's answer", _(s->failed));
    if (job_failed(j)) {
        _cleanup_free_ char *buf = NULL;
        job_say(j, terminal_text(j->error_message, &buf));
        return 0;
    }
    j->step++;
    if (j->step < j->n_steps)
        return job_start_step(j);
    j->end_usec = tk_now_usec(CLOCK_MONOTONIC);
    job_say(j, _("done"));
    return 0;
}

static int job_start_step(Job *j)
{
    _cleanup_bus_message_ sd_bus_message *m = NULL;
    const JobStep *s = &j->steps[j->step];
    int r = token_call_new(j->ctx, json_get_string(j->token, "path"), s->member, &m);
    if (r >= 0)
        r = s->build(j, m, false);
    if (r >= 0)
        r = sd_bus_call_async(sd_bus_message_get_bus(m), &j->slot, m, on_step_reply, j,
                              token_call_timeout_usec(sd_bus_message_get_bus(m), s->member));
    if (r < 0) {
        job_fail(j, CLI_ERROR_FAILED, "%s: cannot send the request: %s", _(s->failed),
                 strerror(-r));
        return 0;
    }
    job_say(j, _(s->doing));
    return 0;
}

void jobs_check(Context *ctx, Job *jobs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        Job *j = &jobs[i];
        const JobStep *s = &j->steps[0];
        _cleanup_bus_error_ sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_bus_message_ sd_bus_message *m = NULL, *reply = NULL;
        if (job_failed(j) || j->n_steps == 0)
            continue;
        int r = token_call_new(ctx, json_get_string(j->token, "path"), s->member, &m);
        if (r >= 0)
            r = s->build(j, m, true);
        if (r < 0) {
            job_fail(j, CLI_ERROR_FAILED, "%s: cannot send the request: %s", _(s->failed),
                     strerror(-r));
            continue;
        }
        r = sd_bus_call(sd_bus_message_get_bus(m), m,
                        token_call_timeout_usec(sd_bus_message_get_bus(m), s->member), &error,
                        &reply);
        if (r < 0)
            job_fail_bus(j, s->failed, &error);
    }
}

static size_t jobs_running(const Job *jobs, size_t n)
{
    size_t running = 0;
    for (size_t i = 0; i < n; i++)
        running += jobs[i].slot != NULL;
    return running;
}

int jobs_run(Context *ctx, Job *jobs, size_t n)
{
    sd_bus *bus;
    int r = context_bus(ctx, &bus);
    if (r != 0)
        return r;
    for (size_t i = 0; i < n; i++)
        if (!job_failed(&jobs[i]) && jobs[i].step < jobs[i].n_steps) {
            jobs[i].start_usec = tk_now_usec(CLOCK_MONOTONIC);
            (void)job_start_step(&jobs[i]);
        }
    while (jobs_running(jobs, n) > 0) {
        r = sd_bus_process(bus, NULL);
        if (r > 0)
            continue;
        if (r >= 0)
            r = sd_bus_wait(bus, UINT64_MAX);
        if (r < 0 && r != -EINTR) {
            /* The connection is gone: every job still waiting has lost its answer. */
            for (size_t i = 0; i < n; i++)
                if (jobs[i].slot) {
                    jobs[i].slot = sd_bus_slot_unref(jobs[i].slot);
                    job_fail(&jobs[i], CLI_ERROR_FAILED, "%s: the bus connection was lost: %s",
                             _(jobs[i].steps[jobs[i].step].failed), strerror(-r));
                }
            break;
        }
    }
    return 0;
}

json_object *job_json(const Job *j)
{
    json_object *o = json_object_new_object();
    bool failed = job_failed(j);
    json_object_object_add(o, "token", json_object_new_string(strempty(j->serial)));
    json_object_object_add(o, "result", json_object_new_string(failed ? "failed" : "done"));
    json_object_object_add(o, "step",
                           failed ? json_object_new_string(j->start_usec == 0 ? "check"
                                                           : j->step < j->n_steps
                                                               ? j->steps[j->step].name
                                                               : "done")
                                  : NULL);
    uint64_t end = j->end_usec ?: j->start_usec;
    json_object_object_add(o, "seconds",
                           json_object_new_double(j->start_usec && end >= j->start_usec
                                                      ? (double)(end - j->start_usec) / 1e6
                                                      : 0));
    json_object *e = NULL;
    if (failed) {
        e = json_object_new_object();
        json_object_object_add(e, "name", json_object_new_string(j->error_name));
        json_object_object_add(e, "message", json_object_new_string(strempty(j->error_message)));
        json_object_object_add(e, "exit-code", json_object_new_int(j->exit_code));
    }
    json_object_object_add(o, "error", e);
    return o;
}

int jobs_exit_code(const Job *jobs, size_t n)
{
    int code = EXIT_OK;
    for (size_t i = 0; i < n; i++) {
        if (!job_failed(&jobs[i]))
            continue;
        if (code == EXIT_OK)
            code = jobs[i].exit_code;
        else if (code != jobs[i].exit_code)
            return EXIT_FAILED;
    }
    return code;
}
