/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>

#include "pcsc-error.h"
#include "pcsc-probe.h"
#include "pcsc-readers.h"

/* MyEID's PIN references: 1 the user PIN (its PUK is attached to it), 3 the SO PIN. */
#define MYEID_REF_USER 0x01
#define MYEID_REF_SO   0x03
/* MyEID cards are personalised with 3 tries per PIN by OpenSC's pkcs15-init profile. */
#define MYEID_MAX_TRIES 3

static const uint8_t myeid_aid[] = {0xA0, 0x00, 0x00, 0x00, 0x63, 0x50,
                                    0x4B, 0x43, 0x53, 0x2D, 0x31, 0x35};

/* The ATRs OpenSC's myeid driver matches exactly. */
static const struct {
    uint8_t len;
    uint8_t atr[16];
} myeid_atrs[] = {
    {15,
     {0x3B, 0xF5, 0x18, 0x00, 0xFF, 0x81, 0x31, 0xFE, 0x45, 0x4D, 0x79, 0x45, 0x49, 0x44, 0x65}},
    {15,
     {0x3B, 0xF5, 0x18, 0x00, 0x00, 0x81, 0x31, 0xFE, 0x45, 0x4D, 0x79, 0x45, 0x49, 0x44, 0x9A}},
    {10, {0x3B, 0x85, 0x80, 0x01, 0x4D, 0x79, 0x45, 0x49, 0x44, 0x78}},
    {14, {0x3B, 0x89, 0x80, 0x01, 0x09, 0x38, 0x33, 0xB1, 0x4D, 0x79, 0x45, 0x49, 0x44, 0x4C}},
    {15,
     {0x3B, 0xF5, 0x96, 0x00, 0x00, 0x80, 0x31, 0xFE, 0x45, 0x4D, 0x79, 0x45, 0x49, 0x44, 0x15}},
    {15,
     {0x3B, 0xF5, 0x96, 0x00, 0x00, 0x81, 0x31, 0xFE, 0x45, 0x4D, 0x79, 0x45, 0x49, 0x44, 0x14}},
};

bool tk_pcsc_probe_known_atr(const uint8_t *atr, size_t atr_len)
{
    for (size_t i = 0; i < ELEMENTSOF(myeid_atrs); i++)
        if (atr_len == myeid_atrs[i].len && memcmp(atr, myeid_atrs[i].atr, atr_len) == 0)
            return true;
    return false;
}

int tk_pcsc_verify_status_to_tries(uint8_t sw1, uint8_t sw2, int max_tries)
{
    if (sw1 == 0x63 && (sw2 & 0xF0) == 0xC0)
        return sw2 & 0x0F;
    if (sw1 == 0x69 && sw2 == 0x83)
        return 0;
    if (sw1 == 0x90 && sw2 == 0x00)
        return max_tries > 0 ? max_tries : -1;
    return -1;
}

typedef struct ProbeCard {
    SCARDCONTEXT ctx;
    SCARDHANDLE card;
    DWORD protocol;
    bool in_transaction;
} ProbeCard;

static void probe_card_done(ProbeCard *p)
{
    if (p->in_transaction)
        (void)SCardEndTransaction(p->card, SCARD_LEAVE_CARD);
    if (p->card)
        (void)SCardDisconnect(p->card, SCARD_LEAVE_CARD);
    if (p->ctx)
        (void)SCardReleaseContext(p->ctx);
}

static LONG probe_transmit(ProbeCard *p, const uint8_t *apdu, size_t len, uint8_t *ret_sw1,
                           uint8_t *ret_sw2)
{
    uint8_t resp[258];
    DWORD resp_len = sizeof(resp);
    const SCARD_IO_REQUEST *pci = p->protocol == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;
    LONG rv = SCardTransmit(p->card, pci, apdu, (DWORD)len, NULL, resp, &resp_len);
    if (rv != SCARD_S_SUCCESS)
        return rv;
    if (resp_len < 2)
        return SCARD_F_COMM_ERROR;
    *ret_sw1 = resp[resp_len - 2];
    *ret_sw2 = resp[resp_len - 1];
    return SCARD_S_SUCCESS;
}

static LONG probe_verify_empty(ProbeCard *p, uint8_t ref, int *ret_tries)
{
    /* Case 1 VERIFY (no Lc, no data): the card reports the counter and spends nothing. */
    const uint8_t apdu[] = {0x00, 0x20, 0x00, ref};
    uint8_t sw1, sw2;
    LONG rv = probe_transmit(p, apdu, sizeof(apdu), &sw1, &sw2);
    if (rv == SCARD_S_SUCCESS)
        *ret_tries = tk_pcsc_verify_status_to_tries(sw1, sw2, MYEID_MAX_TRIES);
    return rv;
}

int tk_pcsc_probe_retries(const char *reader, int *ret_user, int *ret_so, int *ret_puk,
                          TkError *error)
{
    if (!reader || !ret_user || !ret_so || !ret_puk)
        return tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT, "No reader given");

    _cleanup_(probe_card_done) ProbeCard p = {};
    LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &p.ctx);
    if (rv != SCARD_S_SUCCESS) {
        p.ctx = 0;
        return tk_pcsc_error_set(error, rv, "connecting to the PC/SC service");
    }

    /* Shared: the token's worker may hold the card through OpenSC at the same time. */
    rv = SCardConnect(p.ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
                      &p.card, &p.protocol);
    if (rv != SCARD_S_SUCCESS) {
        p.card = 0;
        return tk_pcsc_error_set(error, rv, "connecting to the token");
    }

    uint8_t atr[TK_ATR_MAX];
    DWORD atr_len = sizeof(atr), state, proto, name_len = 0;
    rv = SCardStatus(p.card, NULL, &name_len, &state, &proto, atr, &atr_len);
    if (rv != SCARD_S_SUCCESS)
        return tk_pcsc_error_set(error, rv, "reading the token's ATR");
    if (!tk_pcsc_probe_known_atr(atr, atr_len))
        return tk_error_set(error, -EOPNOTSUPP, TK_ERROR_UNSUPPORTED,
                            "No retry-counter probe is known for this token");

    /* The transaction keeps another client's APDUs from landing between the SELECT and the
     * VERIFYs, where they could select another application. */
    rv = SCardBeginTransaction(p.card);
    if (rv != SCARD_S_SUCCESS)
        return tk_pcsc_error_set(error, rv, "locking the token for reading its counters");
    p.in_transaction = true;

    uint8_t select[5 + sizeof(myeid_aid) + 1] = {0x00, 0xA4, 0x04, 0x00, sizeof(myeid_aid)};
    memcpy(select + 5, myeid_aid, sizeof(myeid_aid));
    select[sizeof(select) - 1] = 0x00;
    uint8_t sw1, sw2;
    rv = probe_transmit(&p, select, sizeof(select), &sw1, &sw2);
    if (rv != SCARD_S_SUCCESS)
        return tk_pcsc_error_set(error, rv, "selecting the token's PKCS#15 application");
    if (sw1 != 0x90 && sw1 != 0x61)
        return tk_error_set(error, -EOPNOTSUPP, TK_ERROR_UNSUPPORTED,
                            "The token has no MyEID application (status %02X %02X)", sw1, sw2);

    int user = -1, so = -1;
    rv = probe_verify_empty(&p, MYEID_REF_USER, &user);
    if (rv == SCARD_S_SUCCESS)
        rv = probe_verify_empty(&p, MYEID_REF_SO, &so);
    if (rv != SCARD_S_SUCCESS)
        return tk_pcsc_error_set(error, rv, "reading the token's retry counters");

    /* The PUK belongs to the user PIN on MyEID and VERIFY cannot reach its counter. */
    *ret_user = user;
    *ret_so = so;
    *ret_puk = -1;
    return 0;
}
