/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "bus-names.h"
#include "token.h"
#include "tokend-config.h"
#include "worker.h"

typedef struct Context Context;
typedef struct Module Module;

/* A method call waiting for, or running in, a token's worker. */
typedef struct Call {
    sd_bus_message *message;
    const char *operation;
    uid_t uid;
    pid_t pid;
    char *request;            /* the unlock application's reference, for the audit trail */
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
    char *runtime_dir; /* per-worker OpenSC configurations */
    char *state_dir;   /* the retry ledger */
    uint64_t worker_timeout_usec;
    unsigned scan_interval_ms;
    Module *modules;
    Token *tokens;
    Reader *readers;
    struct TkPcscMonitor *pcsc; /* NULL: no PC/SC watch, PC/SC modules are polled too */
    sd_event_source *pcsc_source;
};

/* bus-manager.c */
int manager_register(Context *c);
int manager_emit_tokens_changed(Context *c);

/* bus-token.c */
int token_register(Context *c);
int token_new(Context *c, Module *m, const TkTokenInfo *info, Token **ret);
void token_remove(Token *t);
void token_update_info(Token *t, TkTokenInfo *info);
Token *token_free(Token *t);

/* pcsc-watch.c */
int pcsc_watch_start(Context *c);
void pcsc_watch_stop(Context *c);
void pcsc_watch_tokens_changed(Context *c);

/* inventory.c */
int inventory_start(Context *c);
void inventory_stop(Context *c);
int token_spawn_worker(Token *t);
