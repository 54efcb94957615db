/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the files of the tokend-worker program give each other: its main() in worker-main.c,
 * the token worker in worker-token.c and the scanner in worker-scanner.c. (worker.h is the
 * main process's side of a worker.) */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "token.h"

/* A token worker's state, main()'s to own: the module instance, the token it serves, and
 * where the bus connection to tokend is. */
typedef struct WorkerContext {
    const char *module_path;
    TkModule *module;
    TkToken *token;
    char *serial;
    bool unblock_with_puk;
    /* tokend's ledger count of failed SO PIN/PUK attempts (-1: no record), as tokend last said
     * with SetLedger: the worker cannot read the ledger itself. */
    int ledger_failed;
    sd_bus *bus;
} WorkerContext;

/* Serves org.tokend.Worker1 for w's open token on w->bus, and sends the token's info at
 * once. */
int worker_token_publish(WorkerContext *w);

/* Lists the module's slots (of that reader alone, unless reader is NULL) every interval (or,
 * with an interval of 0, only when asked with Rescan) and reports what it found in Tokens
 * signals on bus, until the main process goes away. A poll that takes longer than
 * call_timeout_sec (0: no limit) ends the process. */
int worker_scan(sd_bus *bus, const char *module_path, const char *reader, uint64_t interval_usec,
                unsigned call_timeout_sec);
