/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <PCSC/winscard.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "token-error.h"

/* The PUK's start value on a MyEID: OpenSC's pkcs15-init, which tokend's Initialize runs, gives
 * a MyEID user PIN's PUK 10 tries (myeid.profile, user-puk attempts). No APDU reads that
 * counter, so tokend's ledger counts down from it. */
#define TK_PCSC_PROBE_PUK_MAX_TRIES 10

/* Retry counters read from the card itself, without spending a try; -1 where the card gives no
 * answer for that counter. -EOPNOTSUPP when the card does not answer as a MyEID (whatever its
 * ATR): the caller then falls back to the PKCS#11 flags and the ledger. */
int tk_pcsc_probe_retries(const char *reader, int *ret_user, int *ret_so, int *ret_puk,
                          TkError *error);

/* Sends one APDU to the card; *resp_len is the buffer's size on entry and the response's length
 * (data and status words) on return. A PC/SC code. */
typedef LONG (*TkPcscTransmit)(void *userdata, const uint8_t *apdu, size_t apdu_len, uint8_t *resp,
                               size_t *resp_len);

/* A card connected (shared: the token's worker may hold it through OpenSC too) and locked in a
 * PC/SC transaction, so that no other client's APDU lands between ours. */
typedef struct TkPcscCard {
    SCARDCONTEXT ctx;
    SCARDHANDLE card;
    DWORD protocol;
    bool in_transaction;
} TkPcscCard;

/* Connects to the card in reader and begins the transaction; connecting and locking name the
 * step in the error when one fails. *c is for tk_pcsc_card_close() in every case. */
int tk_pcsc_card_open(TkPcscCard *c, const char *reader, const char *connecting,
                      const char *locking, TkError *error);
void tk_pcsc_card_close(TkPcscCard *c);

/* A TkPcscTransmit over the TkPcscCard in userdata. */
LONG tk_pcsc_card_transmit(void *userdata, const uint8_t *apdu, size_t len, uint8_t *resp,
                           size_t *resp_len);

/* Whether the card answers as a MyEID, whatever its ATR: SELECT of the PKCS#15 application and
 * MyEID's card data (GET DATA 01 A0), over transmit on a card already connected and locked. 0
 * when it does, -EOPNOTSUPP when it does not, another negative errno when the card cannot be
 * asked. Reads only. */
int tk_pcsc_identify_myeid(TkPcscTransmit transmit, void *userdata, TkError *error);

/* The probe's exchanges over transmit, on a card already connected and locked: SELECT of the
 * PKCS#15 application and MyEID's card data identify the card, VERIFY without data reads the
 * user PIN's and the SO PIN's counters. Nothing is written and no secret is sent. */
int tk_pcsc_probe_card(TkPcscTransmit transmit, void *userdata, int *ret_user, int *ret_so,
                       int *ret_puk, TkError *error);

/* Whether a card answers as a MyEID: the PKCS#15 application selected (select_sw) and MyEID's
 * card data, GET DATA 01 A0, given in full (info_sw, info_len). */
bool tk_pcsc_myeid_answers(uint16_t select_sw, uint16_t info_sw, size_t info_len);

/* Reads an ISO 7816 answer to VERIFY without data: tries left, or -1 when the status words say
 * nothing about the counter. "90 00" means the PIN is verified in this card session: the
 * counter is then at its start value, max_tries. */
int tk_pcsc_verify_status_to_tries(uint8_t sw1, uint8_t sw2, int max_tries);
