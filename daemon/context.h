/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "bus-names.h"
#include "operations.h"
#include "token.h"
#include "tokend-config.h"
#include "worker.h"

typedef struct Context Context;
typedef struct Module Module;

/* A method call on a token, from its arrival to its reply: waiting for polkit, queued for the
 * token's worker, or running there. */
typedef struct Call {
    Context *context;
    sd_bus_message *message;
    const Operation *op;
    char *path;   /* the token's object: it may go while polkit is asked */
    char *sender; /* for the per-caller cap */
    uid_t uid;
    pid_t pid;
    char *request; /* the unlock application's reference, for the audit trail */
    bool force;
    bool so_pin_given;
    TkSecret *derived_so_pin; /* from the site key, added to the call's options */
    struct Call *next;
} Call;

typedef struct Token {
    Context *context;
    Module *module;
    char *path;
    TkTokenInfo info; /* the cache that property reads answer from */
    bool present;
    Worker *worker;
    sd_event_source *respawn;
    Call *queue; /* queue->message is the running call when running is set */
    bool running;
    sd_bus_slot *running_slot;
    bool timed_out;
    bool worker_lost; /* killed after a failed call; its exit is awaited */
    uint64_t started_usec;
    unsigned missed; /* polls in a row that did not list it */
    bool listed;     /* in the poll being read */
    /* Another present token reports the same serial: the serial names neither, so nothing
     * derived from it (the site key's SO PIN/PUK) is used on either until one leaves. */
    bool serial_conflict;
    struct Token *next;
} Token;

typedef struct Reader {
    Context *context;
    char *name;
    char *path;
    bool card_present;
    uint8_t atr[33];
    size_t atr_len;
    struct Reader *next;
} Reader;

/* A configured PKCS#11 module and the scanner worker that polls its slots. */
struct Module {
    Context *context;
    char *path;
    bool pcsc_backed; /* OpenSC: the card's reader decides, and an unblock uses the PUK */
    bool on_demand;   /* its scanner lists slots when PC/SC says something changed */
    Worker *scanner;
    sd_event_source *respawn;
    struct Module *next;
};

struct Context {
    Config config;
    sd_event *event;
    sd_bus *bus;
    char *worker_path;
    char *worker_socket; /* set: workers are started by connecting here (socket activation) */
    char *runtime_dir;   /* per-worker OpenSC configurations */
    char *state_dir;     /* the retry ledger */
    uint64_t worker_timeout_usec;
    unsigned scan_interval_ms;
    Module *modules;
    Token *tokens;
    Reader *readers;
    struct TkPcscMonitor *pcsc; /* NULL: no PC/SC watch, PC/SC modules are polled too */
    sd_event_source *pcsc_source;
    Call *authorizing; /* calls waiting for polkit, of every token */
};

/* bus-manager.c */
int manager_register(Context *c);
int manager_emit_tokens_changed(Context *c);

/* bus-token.c */
int token_register(Context *c);
Token *token_find(Context *c, const char *path);
void token_emit_busy(Token *t);
void token_emit_progress(Token *t, const char *operation, const char *stage);
int token_new(Context *c, Module *m, const TkTokenInfo *info, Token **ret);
void token_remove(Token *t);
void token_update_info(Token *t, TkTokenInfo *info);
Token *token_free(Token *t);

/* call.c: a method call from validation to its reply. */
int call_start(sd_bus_message *m, Token *t, sd_bus_error *error);
void call_dispatch(Token *t);
/* The running call's worker went away: fail it with the message given. */
void call_fail_running(Token *t, const char *message);
/* The token left: every call queued for it fails with TokenRemoved. */
void call_fail_queue(Token *t);
Call *call_free(Call *call);

/* token-worker.c: the token's worker process. */
int token_spawn_worker(Token *t);
/* The --call-timeout a worker gets: tokend's worker timeout and a little more. */
#define WORKER_CALL_TIMEOUT_SLACK_SEC 5
void worker_call_timeout(const Context *c, char *buf, size_t size);

/* pcsc-watch.c */
int pcsc_watch_start(Context *c);
void pcsc_watch_stop(Context *c);
void pcsc_watch_tokens_changed(Context *c);

/* inventory.c */
int inventory_start(Context *c);
void inventory_stop(Context *c);
