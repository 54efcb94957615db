/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>

#include "pcsc-error.h"
#include "pcsc-probe.h"

/* MyEID's PIN references: 1 the user PIN (its PUK is attached to it), 3 the SO PIN. */
#define MYEID_REF_USER 0x01
#define MYEID_REF_SO   0x03
/* MyEID cards are personalised with 3 tries per PIN by OpenSC's pkcs15-init profile. */
#define MYEID_MAX_TRIES 3
/* The length of MyEID's card data record (GET DATA 01 A0). */
#define MYEID_INFO_LEN 20

static const uint8_t myeid_aid[] = {0xA0, 0x00, 0x00, 0x00, 0x63, 0x50,
                                    0x4B, 0x43, 0x53, 0x2D, 0x31, 0x35};

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

void tk_pcsc_card_close(TkPcscCard *c)
{
    if (c->in_transaction)
        (void)SCardEndTransaction(c->card, SCARD_LEAVE_CARD);
    if (c->card)
        (void)SCardDisconnect(c->card, SCARD_LEAVE_CARD);
    if (c->ctx)
        (void)SCardReleaseContext(c->ctx);
    *c = (TkPcscCard){};
}

int tk_pcsc_card_open(TkPcscCard *c, const char *reader, const char *connecting,
                      const char *locking, TkError *error)
{
    *c = (TkPcscCard){};
    LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &c->ctx);
    if (rv != SCARD_S_SUCCESS) {
        c->ctx = 0;
        return tk_pcsc_error_set(error, rv, "connecting to the PC/SC service");
    }
    /* Shared: the token's worker may hold the card through OpenSC at the same time. */
    rv = SCardConnect(c->ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
                      &c->card, &c->protocol);
    if (rv != SCARD_S_SUCCESS) {
        c->card = 0;
        return tk_pcsc_error_set(error, rv, connecting);
    }
    rv = SCardBeginTransaction(c->card);
    if (rv != SCARD_S_SUCCESS)
        return tk_pcsc_error_set(error, rv, locking);
    c->in_transaction = true;
    return 0;
}

LONG tk_pcsc_card_transmit(void *userdata, const uint8_t *apdu, size_t len, uint8_t *resp,
                           size_t *resp_len)
{
    const TkPcscCard *c = userdata;
    DWORD n = (DWORD)*resp_len;
    const SCARD_IO_REQUEST *pci = c->protocol == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;
    LONG rv = SCardTransmit(c->card, pci, apdu, (DWORD)len, NULL, resp, &n);
    if (rv == SCARD_S_SUCCESS)
        *resp_len = n;
    return rv;
}

/* One exchange: the response's data length and its status words. */
static LONG exchange(TkPcscTransmit transmit, void *userdata, const uint8_t *apdu, size_t len,
                     uint8_t *resp, size_t resp_size, size_t *ret_data_len, uint16_t *ret_sw)
{
    size_t n = resp_size;
    LONG rv = transmit(userdata, apdu, len, resp, &n);
    if (rv != SCARD_S_SUCCESS)
        return rv;
    if (n < 2 || n > resp_size)
        return SCARD_F_COMM_ERROR;
    *ret_data_len = n - 2;
    *ret_sw = (uint16_t)(resp[n - 2] << 8 | resp[n - 1]);
    return SCARD_S_SUCCESS;
}

/* 61 xx: selected, with the FCI waiting for GET RESPONSE (T=0). */
static bool selected(uint16_t select_sw)
{
    return select_sw == 0x9000 || (select_sw >> 8) == 0x61;
}

bool tk_pcsc_myeid_answers(uint16_t select_sw, uint16_t info_sw, size_t info_len)
{
    return selected(select_sw) && info_sw == 0x9000 && info_len == MYEID_INFO_LEN;
}

int tk_pcsc_identify_myeid(TkPcscTransmit transmit, void *userdata, TkError *error)
{
    uint8_t resp[258];
    size_t len;
    uint16_t select_sw, info_sw;

    uint8_t select[5 + sizeof(myeid_aid) + 1] = {0x00, 0xA4, 0x04, 0x00, sizeof(myeid_aid)};
    memcpy(select + 5, myeid_aid, sizeof(myeid_aid));
    select[sizeof(select) - 1] = 0x00;
    LONG rv =
        exchange(transmit, userdata, select, sizeof(select), resp, sizeof(resp), &len, &select_sw);
    if (rv != SCARD_S_SUCCESS)
        return tk_pcsc_error_set(error, rv, "selecting the token's PKCS#15 application");

    /* MyEID's card data (GET DATA 01 A0): applet version and serial, 20 bytes, as OpenSC's
     * myeid driver reads it before it takes the card. Any ATR that answers both is a MyEID. */
    info_sw = 0;
    len = 0;
    if (selected(select_sw)) {
        static const uint8_t info[] = {0x00, 0xCA, 0x01, 0xA0, MYEID_INFO_LEN};
        rv = exchange(transmit, userdata, info, sizeof(info), resp, sizeof(resp), &len, &info_sw);
        /* Over T=0 the card may hold the data back for GET RESPONSE. */
        if (rv == SCARD_S_SUCCESS && (info_sw >> 8) == 0x61) {
            const uint8_t get_response[] = {0x00, 0xC0, 0x00, 0x00, (uint8_t)info_sw};
            rv = exchange(transmit, userdata, get_response, sizeof(get_response), resp,
                          sizeof(resp), &len, &info_sw);
        }
        if (rv != SCARD_S_SUCCESS)
            return tk_pcsc_error_set(error, rv, "reading the token's card data");
    }
    if (!tk_pcsc_myeid_answers(select_sw, info_sw, len))
        return tk_error_set(error, -EOPNOTSUPP, TK_ERROR_UNSUPPORTED,
                            "The token does not answer as a MyEID (status %04X, card data %04X)",
                            select_sw, info_sw);
    return 0;
}

int tk_pcsc_probe_card(TkPcscTransmit transmit, void *userdata, int *ret_user, int *ret_so,
                       int *ret_puk, TkError *error)
{
    uint8_t resp[258];
    size_t len;
    uint16_t sw;

    int r = tk_pcsc_identify_myeid(transmit, userdata, error);
    if (r < 0)
        return r;

    LONG rv;
    int counts[2] = {-1, -1};
    static const uint8_t refs[2] = {MYEID_REF_USER, MYEID_REF_SO};
    for (size_t i = 0; i < ELEMENTSOF(refs); i++) {
        /* Case 1 VERIFY (no Lc, no data): the card reports the counter and spends nothing. */
        const uint8_t verify[] = {0x00, 0x20, 0x00, refs[i]};
        rv = exchange(transmit, userdata, verify, sizeof(verify), resp, sizeof(resp), &len, &sw);
        if (rv != SCARD_S_SUCCESS)
            return tk_pcsc_error_set(error, rv, "reading the token's retry counters");
        counts[i] = tk_pcsc_verify_status_to_tries(sw >> 8, sw & 0xFF, MYEID_MAX_TRIES);
    }

    /* The PUK belongs to the user PIN on MyEID and VERIFY cannot reach its counter. */
    *ret_user = counts[0];
    *ret_so = counts[1];
    *ret_puk = -1;
    return 0;
}

int tk_pcsc_probe_retries(const char *reader, int *ret_user, int *ret_so, int *ret_puk,
                          TkError *error)
{
    if (!reader || !ret_user || !ret_so || !ret_puk)
        return tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT, "No reader given");

    /* The transaction keeps another client's APDUs from landing between the SELECT and the
     * VERIFYs, where they could select another application. */
    _cleanup_(tk_pcsc_card_close) TkPcscCard p = {};
    int r = tk_pcsc_card_open(&p, reader, "connecting to the token",
                              "locking the token for reading its counters", error);
    if (r < 0)
        return r;

    return tk_pcsc_probe_card(tk_pcsc_card_transmit, &p, ret_user, ret_so, ret_puk, error);
}
