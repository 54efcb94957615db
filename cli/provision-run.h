/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "tokenctl.h"

/* Calls on many tokens at once through tokend, for provision and provision --import: each
 * token's job runs its steps one after the other, the jobs side by side on one bus connection
 * (tokend runs calls on different tokens at the same time). A job that fails stops there and
 * keeps its error; the others go on. */
typedef struct Job Job;

typedef struct JobStep {
    const char *name;   /* in the JSON summary: "initialize", "generate-key", ... */
    const char *doing;  /* N_(): the progress line, "initialising" */
    const char *failed; /* N_(): the message's start, "Initialising the token failed" */
    const char *member; /* the Token method */
    /* Appends the call's arguments and options (the dict too); for a dry run (dry) the
     * "dry-run" option and no secret. */
    int (*build)(Job *j, sd_bus_message *m, bool dry);
    /* Reads the reply; < 0 fails the job with a local error. */
    int (*done)(Job *j, sd_bus_message *reply);
} JobStep;

struct Job {
    Context *ctx;
    json_object *token; /* the token's properties, with "path" */
    const char *serial;
    const JobStep *steps;
    size_t n_steps;
    size_t step; /* the one running or failed; n_steps when every step is done */
    sd_bus_slot *slot;
    uint64_t start_usec, end_usec;
    char *error_name;
    char *error_message;
    int exit_code;
    void *data; /* the verb's own */
};

/* The tokens a verb acts on: those named on the command line (each resolved as any TOKEN), or
 * without names every token in a reader (a smart card: a module's token, such as an HSM's, is
 * never taken unnamed). Fails (fail()) when there is none; a new array. */
int jobs_tokens(Context *ctx, json_object **ret);

/* Fills jobs[i] for each token of tokens, with the same steps. */
int jobs_new(Context *ctx, json_object *tokens, const JobStep *steps, size_t n_steps, Job **ret,
             size_t *ret_n);
void jobs_free(Job *jobs, size_t n);

/* Ends job j with a failure of its own (not tokend's): fmt is a msgid. */
void job_fail(Job *j, const char *name, const char *fmt, ...) _printf_(3, 4);
bool job_failed(const Job *j);
/* Ends job j with tokend's refusal, in the words fail_bus() gives it: what is a msgid. */
void job_fail_bus(Job *j, const char *what, const sd_bus_error *error);

/* Asks tokend whether each job's first step would be allowed (a dry run), before any PIN is
 * asked: a job it refuses fails there, at the step "check". The later steps are asked when
 * they come, since what they may do depends on the first (a locked PIN that an initialisation
 * replaces). */
void jobs_check(Context *ctx, Job *jobs, size_t n);

/* Runs every job that has not failed to its end. On a terminal (and not --json or -q) each
 * step's start and each job's end is a line on standard error. */
int jobs_run(Context *ctx, Job *jobs, size_t n);

/* One object a job in the summary: "token", "result" ("done" or "failed"), "step" (the step
 * that failed, "check" for a dry run's refusal; null when done), "seconds", "error" ({name,
 * message, exit-code} or null). */
json_object *job_json(const Job *j);

/* The exit status of the whole: 0 when every job is done, the failed jobs' exit status when they
 * share one, else EXIT_FAILED. */
int jobs_exit_code(const Job *jobs, size_t n);
