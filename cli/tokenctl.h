/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include <json-c/json.h>
#include <systemd/sd-bus.h>

#include "bus-names.h"
#include "macro.h"

/* Everything one run of tokenctl knows: parsed options, the bus, the result being built for
 * --json and the first error met. Verbs fill it in; main() prints it. */
typedef struct Context {
    /* global options */
    bool json;        /* --json, whatever its mode, and not --json=off */
    bool json_pretty; /* indented rather than one line */
    bool ask_password;
    bool quiet;     /* -q: no message on success and no progress line; errors and data stay */
    bool no_legend; /* --no-legend: tables without their column headings */
    bool no_pager;  /* --no-pager */
    pid_t pager_pid;
    const char *pin_file;
    const char *new_pin_file;
    const char *so_pin_file;

    /* verb options */
    bool login;
    bool so;
    bool puk;
    bool force;
    bool yes; /* --yes: no confirmation asked for what destroys */
    /* --expiry-warn: a certificate that expires within this many days is warned of; given
     * explicitly, one that does (or has expired) makes the exit status EXIT_EXPIRING. */
    unsigned expiry_warn_days;
    bool expiry_warn_given;
    const char *type;
    const char *label;
    const char *id_hex;
    const char *key_id;
    const char *cert_id;
    const char *subject;
    const char *output;
    const char *chain;
    const char *request;
    const char *config;
    const char *since;
    const char *until;
    const char *operation;
    const char *token_serial;
    const char *import_dir; /* provision --import */
    const char *database;   /* audit --database: a libpq connection string, "" for its defaults */
    const char *station;    /* audit --station */
    char **emails;
    char **dns;

    /* positional arguments after the verb */
    char **args;
    size_t n_args;

    /* The new PIN's length limits (tokend's EffectiveMinPinLength, the token's MaxPinLength),
     * checked where it is typed; 0: none known. */
    unsigned new_pin_min;
    unsigned new_pin_max;

    bool color;
    bool interactive;
    sd_bus *bus;
    pid_t agent_pid;

    json_object *result;
    bool output_failed; /* standard output could not be written: said on stderr, exit 1 */
    char *error_name;
    char *error_message;
    int exit_code;
} Context;

/* Records the first failure (name and a message a person can act on) and returns the exit
 * code for it, so a verb can write "return fail(ctx, ...);". fmt, and fail_bus()'s what and
 * fail_errno()'s fmt, are msgids: these translate them (cli/po/meson.build lists them for
 * xgettext). */
int fail(Context *ctx, const char *name, const char *fmt, ...) _printf_(3, 4);
/* Same for a bus error: the message is "<what>: <daemon's message>". */
int fail_bus(Context *ctx, const char *what, const sd_bus_error *error);
/* For a local errno failure. */
int fail_errno(Context *ctx, int err, const char *fmt, ...) _printf_(3, 4);

/* Says on stderr, once, that standard output could not be written (in --json mode too: it is
 * the one channel left), and makes the run a failure. */
void output_failed(Context *ctx, int err);

/* Starts the pager for what a verb prints next (pager.h), unless --no-pager, --json or -q. */
void context_pager(Context *ctx);

/* Opens the system bus (honouring DBUS_SYSTEM_BUS_ADDRESS) once. */
int context_bus(Context *ctx, sd_bus **ret);

int verb_list(Context *ctx);
int verb_status(Context *ctx);
int verb_objects(Context *ctx);
int verb_keygen(Context *ctx);
int verb_csr(Context *ctx);
int verb_import_cert(Context *ctx);
int verb_delete(Context *ctx);
int verb_change_pin(Context *ctx);
int verb_unblock(Context *ctx);
int verb_init(Context *ctx);
int verb_monitor(Context *ctx);
int verb_audit(Context *ctx);
int verb_provision(Context *ctx);
