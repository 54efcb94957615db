/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "bus-names.h"
#include "operations.h"
#include "refusal-log.h"
#include "token.h"
#include "tokend-config.h"
#include "worker-protocol.h"
#include "worker.h"

typedef struct Context Context;
typedef struct Module Module;
typedef struct Reader Reader;

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
    char *request;       /* the unlock application's reference, for the audit trail */
    uint64_t intent_seq; /* of its intent record, which its outcome names; 0 before it */
    bool force;
    bool so_pin_given;
    bool dry_run;             /* answered after polkit: no token, no secret, no record */
    TkSecret *derived_so_pin; /* from the site key, added to the call's options */
    struct Call *next;
} Call;

/* A token's SO PIN/PUK count as an info gives it. */
typedef struct SoCount {
    TkPinState state;
    int retries;
    TkRetriesSource source;
} SoCount;

/* Outcomes the retry ledger could not take when they happened, counted here until a write
 * works: the count was reset (first), then failed this many times more, and this many answers
 * were lost. */
typedef struct LedgerUnsaved {
    bool reset;
    unsigned failures;
    unsigned unknown;
} LedgerUnsaved;

typedef struct Token {
    Context *context;
    Module *module;
    char *path;
    TkTokenInfo info; /* the cache that property reads answer from */
    /* What the reports said before tokend added its ledger's count (ledger.c): the SO side as
     * the PKCS#11 flags give it, and what the token's worker read beside the flags. */
    SoCount so_flags;
    WorkerRetries worker_retries;
    LedgerUnsaved ledger_unsaved;
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

/* A scanner worker: a module's own (reader NULL), which lists every slot of a module that
 * PC/SC does not drive, or a reader's, which lists only that reader's slots of a PC/SC-backed
 * module through a private OpenSC configuration that hides every other reader. */
typedef struct Scanner {
    Module *module;
    Reader *reader;
    Worker *worker;
    sd_event_source *respawn;
    sd_event_source *watchdog; /* fires when the scanner's next report is overdue */
    sd_event_source *found;    /* a reader's: its token was found, the scanner is to stop */
    struct Scanner *next;      /* in its reader's list */
} Scanner;

struct Reader {
    Context *context;
    char *name;
    char *path;
    bool card_present;
    uint8_t atr[33];
    size_t atr_len;
    Scanner *scanners; /* while a card is in it: one per PC/SC-backed module */
    struct Reader *next;
};

typedef enum ModuleState {
    MODULE_STARTING,       /* no report from its scanner yet */
    MODULE_OK,             /* the last poll listed its tokens */
    MODULE_FAILING,        /* the last poll failed, or the scanner stopped */
    MODULE_NOT_RESPONDING, /* the scanner reported nothing in time and was restarted */
} ModuleState;

/* A configured PKCS#11 module and the scanner workers that list its slots. */
struct Module {
    Context *context;
    char *path;
    bool pcsc_backed; /* OpenSC: the card's reader decides, and an unblock uses the PUK */
    /* PC/SC is watched for it: each reader with a card has a scanner of its own, listing on
     * PC/SC's events (and rarely otherwise), and the module has none. */
    bool on_demand;
    Scanner *scanner; /* the module's own, unless on_demand */
    ModuleState state;
    char *error; /* what the last failure said; "" when none */
    struct Module *next;
};

struct Context {
    Config config;
    sd_event *event;
    sd_bus *bus;
    char *worker_path;
    char *worker_socket; /* set: workers are started by connecting here (socket activation) */
    char *runtime_dir;   /* per-worker OpenSC configurations */
    char *state_dir;     /* the retry ledger, which only the main process reads and writes */
    struct Store *store; /* the retry ledger's (store.h) */
    int ledger_error;    /* the last read of the ledger failed so (0: it worked); logged once */
    sd_event_source *ledger_refresh; /* counts that other stations share, read again */
    uint64_t worker_timeout_usec;    /* a ceiling on the operation table's limits; 0: none */
    uint64_t scanner_timeout_usec;   /* how long one poll of a module may take */
    unsigned scan_interval_ms;
    Module *modules;
    Token *tokens;
    Reader *readers;
    struct TkPcscMonitor *pcsc; /* NULL: no PC/SC watch, PC/SC modules are polled too */
    sd_event_source *pcsc_source;
    bool readers_changed; /* a reader came since the PC/SC events were last acted on */
    Call *authorizing;    /* calls waiting for polkit, of every token */
    RefusalLog refusals;  /* the journal lines of calls refused before polkit */
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

/* opensc-conf.c: a worker's private OpenSC configuration, which hides every reader but its
 * own (reader; NULL hides every reader tokend knows of). */
int opensc_conf_text(Context *c, const char *reader, char **ret);
/* Starts a worker with argv, by the worker socket or as tokend's child, and hands it conf as its
 * OpenSC configuration (NULL: none); a child reads it from CONF_NAME.conf in the runtime
 * directory. */
int opensc_worker_start(Context *c, char *const *argv, const char *conf, const char *conf_name,
                        worker_exit_cb_t cb, void *userdata, Worker **ret);

/* token-worker.c: the token's worker process. */
int token_spawn_worker(Token *t);
/* The --call-timeout a worker gets: tokend's ceiling and a little more, or 0 (none). */
void worker_call_timeout(const Context *c, char *buf, size_t size);
/* How long a call of op may run in its worker: the operation table's limit, within tokend's
 * ceiling (--worker-timeout). */
static inline uint64_t call_timeout_usec(const Context *c, const Operation *op)
{
    return operation_timeout_usec(op, c->worker_timeout_usec);
}

/* ledger.c: the retry ledger, kept by the main process alone. */
int ledger_start(Context *c);
/* A store that other stations share: the tokens' counts are read again every few seconds. */
int ledger_watch(Context *c);
void ledger_stop(Context *c);
/* Keeps info's SO side as the flags give it, and puts in the card's counters (from the token's
 * worker) and the ledger's count. */
void ledger_add_counts(Token *t, TkTokenInfo *info);
/* A worker (retries given) or the scanner (NULL) reported the token's info. */
void token_report_info(Token *t, TkTokenInfo *info, const WorkerRetries *retries);
/* The call's outcome (error_name NULL: done), written to the ledger where the operation table
 * says it counts, before it is recorded and answered. */
void ledger_count_outcome(Token *t, const Operation *op, const char *error_name);
/* Refuses a call whose outcome the ledger counts on a token whose SO PIN/PUK count only the
 * ledger gives, while the ledger cannot be written. */
int ledger_check_call(Token *t, const Operation *op, TkError *e);
/* Hands the ledger's count to the token's worker, for its own final-try check. */
void ledger_tell_worker(Token *t);
/* The running call is over: a hold that ledger_check_call() took and no outcome ended goes. */
void ledger_release(Token *t);

/* pcsc-watch.c */
Reader *reader_find(Context *c, const char *name);
/* The reader a slot description names (a long reader name is cut in it). */
Reader *reader_find_slot(Context *c, const char *slot_description);
int pcsc_watch_start(Context *c);
void pcsc_watch_stop(Context *c);
void pcsc_watch_tokens_changed(Context *c);

/* module.c: a module's scanners and state. */
int module_new(Context *c, const char *path, bool pcsc_backed, bool on_demand, Module **ret);
Module *module_free(Module *m);
/* Starts the module's own scanner, or, for a module whose scanners are per reader, says whether
 * its file is there. */
int module_start(Module *m);
/* Starts a scanner of module m, of reader rd or (NULL) of the whole module. */
int scanner_new(Module *m, Reader *rd, Scanner **ret);
Scanner *scanner_free(Scanner *s);
/* Asks the scanner to list its slots now. */
void scanner_rescan(Scanner *s);
/* The scanner reported a poll: error is what failed, "" or NULL when it listed the tokens. */
void module_report(Scanner *s, const char *error);
int module_append_states(sd_bus_message *reply, Context *c);

/* discovery.c: a scanner per reader with a card, for each PC/SC-backed module. */
/* Acts on what the PC/SC events since the last call changed: scanners for the cards that came,
 * fresh OpenSC configurations for every worker when a reader came. */
void discovery_sync(Context *c);
/* A reader's scanner listed every token of its reader: the tokens' workers take the card over
 * and the scanner stops (soon, off its own callback). */
void discovery_token_found(Scanner *s);
/* The card in reader may not be what its token says (its worker reports another serial): the
 * reader's scanners list it again. */
void discovery_look_again(Context *c, const char *slot_description);
/* The card left rd (or rd itself went): its scanners stop. */
void discovery_card_left(Reader *rd);
/* Every reader's scanners list their slots now (pcscd is back). */
void discovery_rescan(Context *c);
/* PC/SC is no longer watched: PC/SC-backed modules are polled as a whole from now on. */
void discovery_stop(Context *c);

/* inventory.c */
int inventory_start(Context *c);
/* A scanner's Tokens signal: the module's tokens (of its reader, for a reader's scanner) as its
 * last poll found them. userdata is the Scanner. */
int inventory_on_tokens(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);
/* PC/SC says the card left reader (or the reader left): its tokens go at once. */
void inventory_card_left(Context *c, const char *reader);
/* Idle PC/SC workers start again with a configuration that hides the readers known now. */
void inventory_refresh_pcsc_workers(Context *c);
void inventory_stop(Context *c);
