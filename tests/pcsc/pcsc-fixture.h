/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* A private pcscd (own mount namespace, /run replaced by a temp dir) with one vpcd entry, so
 * two readers "Virtual PCD 00 00" and "Virtual PCD 00 01". Sets PCSCLITE_CSOCK_NAME. */
typedef struct PcscFixture {
    char dir[64];
    char sock[128];
    int port;
    pid_t pid;
} PcscFixture;

/* Starts pcscd; the first call also makes the directory and picks the port, later calls on
 * the same f reuse them. 0 on success, -ENOPKG when it cannot run here (not root, pcscd or vpcd
 * missing), -errno else. */
int pcsc_fixture_start(PcscFixture *f);
/* The same with the vpcd entry under another name: readers "<friendly_name> 00 00" and "… 00 01".
 * The name is the first start's; later starts reuse the configuration. */
int pcsc_fixture_start_named(PcscFixture *f, const char *friendly_name);
/* Why a private pcscd cannot run here, or NULL when it can. */
const char *pcsc_fixture_unavailable(void);
int pcsc_fixture_stop_pcscd(PcscFixture *f);
int pcsc_fixture_restart_pcscd(PcscFixture *f);
/* Stops pcscd, keeping the directory for the next start. */
void pcsc_fixture_done(PcscFixture *f);
/* Stops pcscd and removes the directory. */
void pcsc_fixture_cleanup(PcscFixture *f);

/* A minimal ISO 7816 card with MyEID's ATR played to a vpcd reader from a thread: SELECT by
 * AID, MyEID's card data (GET DATA 01 A0) unless no_card_data, VERIFY with and without data on
 * references 1 and 3 with 3-try counters. Enough to
 * exercise the PC/SC layer; the full card lives in the simulator. */
typedef struct MiniCard {
    int port;
    int fd;
    pthread_t thread;
    bool running;
    pthread_mutex_t lock;
    int tries[4];
    bool verified[4];
    char pin[4][16];
    unsigned verify_empty_count;
    const uint8_t *atr; /* MyEID's unless set before insert */
    size_t atr_len;
    bool no_card_data; /* a PKCS#15 card that is no MyEID */
} MiniCard;

void mini_card_init(MiniCard *c, int port);
int mini_card_insert(MiniCard *c);
void mini_card_remove(MiniCard *c);
