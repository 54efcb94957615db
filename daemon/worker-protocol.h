/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include "retries.h"
#include "token.h"

/* The private peer-to-peer interface between tokend and a tokend-worker over a socketpair
 * (fd 3 in the worker). A token worker has one method per token operation, with the same
 * signature as org.tokend.Tokend1.Token, so tokend forwards a call's arguments unchanged, and
 * SetLedger(i failed), by which tokend hands it the retry ledger's count of failed SO PIN/PUK
 * attempts (-1: no record), which the worker cannot read itself. It emits Progress(s operation,
 * s stage) while working and Info(a{sv}) before each reply, so the main process's cache is
 * current when the reply arrives. A scanner worker emits Tokens(aa{sv} tokens, s error) after
 * every poll of its module's slots, error saying what failed ("" when the poll listed them). */
#define WORKER_PATH      "/org/tokend/Worker1"
#define WORKER_INTERFACE "org.tokend.Worker1"
#define WORKER_FD        3

/* A worker's own deadline for a call is the operation's limit (operations.h) and this much
 * more: tokend's timer, which reports the timeout to the caller, ends first, and the worker's
 * ends a worker that tokend could not stop (one of another user, started by socket
 * activation). */
#define WORKER_CALL_TIMEOUT_SLACK_SEC 5

/* What a token worker reads of the retry counters beside the PKCS#11 flags in its Info: the
 * card's own counters, and the start value of the SO PIN/PUK counter from which tokend takes
 * its ledger's count of failures (0: the ledger counts nothing on this token). A scanner has
 * neither. */
typedef struct WorkerRetries {
    TkCardRetries card;
    unsigned so_max_tries;
} WorkerRetries;

#define WORKER_RETRIES_NONE ((WorkerRetries){TK_CARD_RETRIES_UNKNOWN, 0})

/* info's counts as the PKCS#11 flags give them; retries NULL (a scanner) or what a token
 * worker read beside them. */
int worker_append_info(sd_bus_message *m, const TkTokenInfo *info, const WorkerRetries *retries);
/* Reads an a{sv} written by worker_append_info(); unknown keys are skipped. ret_retries may be
 * NULL; without those keys it is WORKER_RETRIES_NONE. */
int worker_read_info(sd_bus_message *m, TkTokenInfo *ret, WorkerRetries *ret_retries);
/* Whether two infos differ in anything a client sees. */
bool worker_info_equal(const TkTokenInfo *a, const TkTokenInfo *b);
