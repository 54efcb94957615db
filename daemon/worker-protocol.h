/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include "token.h"

/* The private peer-to-peer interface between tokend and a tokend-worker over a socketpair
 * (fd 3 in the worker). A token worker has one method per token operation, with the same
 * signature as org.tokend.Tokend1.Token, so tokend forwards a call's arguments unchanged. It
 * emits Progress(s operation, s stage) while working and Info(a{sv}) before each reply, so
 * the main process's cache is current when the reply arrives. A scanner worker emits
 * Tokens(aa{sv}) after every poll of its module's slots. */
#define WORKER_PATH      "/org/tokend/Worker1"
#define WORKER_INTERFACE "org.tokend.Worker1"
#define WORKER_FD        3

int worker_append_info(sd_bus_message *m, const TkTokenInfo *info);
/* Reads an a{sv} written by worker_append_info(); unknown keys are skipped. */
int worker_read_info(sd_bus_message *m, TkTokenInfo *ret);
/* Whether two infos differ in anything a client sees. */
bool worker_info_equal(const TkTokenInfo *a, const TkTokenInfo *b);
