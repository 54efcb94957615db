/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "card-fs.h"
#include "card-key.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An Aventra MyEID card (applet 4.5): the ISO 7816-4 file and PIN commands and the MyEID
 * commands that OpenSC's myeid driver and its pkcs15-init profile use. */

#define SIM_MAX_PINS 14
#define SIM_PIN_LEN  8

typedef struct SimPin {
    bool present;
    uint8_t pin[SIM_PIN_LEN]; /* as sent: ASCII, padded with 0xFF */
    uint8_t puk[SIM_PIN_LEN];
    uint8_t max_tries;
    uint8_t tries;
    uint8_t puk_max_tries;
    uint8_t puk_tries;
} SimPin;

typedef struct SimCard {
    /* What the card keeps (saved with it). */
    uint8_t serial[10];
    bool activated;
    SimFile *mf;
    SimPin pins[SIM_MAX_PINS + 1]; /* by reference, 1..14 */
    uint16_t change_counter;

    /* What a power cycle loses. */
    SimFile *current;
    bool verified[SIM_MAX_PINS + 1];
    uint8_t se_operation; /* MSE P2: 0xB6 signing, 0xB8 deciphering, 0 none */
    uint8_t se_algorithm;
    uint16_t se_key;
    uint8_t *chain;
    size_t chain_len;
    uint8_t chain_ins;
    SimKeyLoad load;

    /* Set when an APDU changed what the card keeps. */
    bool dirty;
} SimCard;

/* A factory-fresh card: the MF and the PKCS#15 application DF, in the creation state. */
int sim_card_init_blank(SimCard *c, const uint8_t serial[10]);
void sim_card_done(SimCard *c);
/* Power off or reset: the security state and any half-sent command are gone. */
void sim_card_reset(SimCard *c);
/* Processes one command APDU; writes response data and SW1 SW2 to out. Returns the length. */
size_t sim_card_apdu(SimCard *c, const uint8_t *apdu, size_t len, uint8_t *out, size_t size);

/* The longest ATR ISO 7816-3 allows. */
#define SIM_ATR_MAX 33
extern const uint8_t sim_card_atr[];
extern const size_t sim_card_atr_len;
