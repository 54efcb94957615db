/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "myeid-erase.h"

#include <errno.h>
#include <string.h>

#include "pcsc-error.h"
#include "pcsc-probe.h"
#include "pcsc-readers.h"

/* MyEID's PIN records are 8 bytes, padded with FF. */
#define MYEID_PIN_LEN 8
#define MYEID_REF_SO  0x03
/* Life cycle status of a file in its FCP (tag 8A): operational once the applet is activated. */
#define LCS_ACTIVATED 0x05
/* An access condition nibble: 0 always, F never, a PIN reference in between. */
#define AC_ALWAYS 0x0
#define AC_NEVER  0xF

/* Sends apdu; the answer's data (without the status words) goes to resp, which may be NULL. */
static LONG erase_transmit(TkPcscCard *c, const uint8_t *apdu, size_t len, uint8_t *resp,
                           size_t *resp_len, uint16_t *ret_sw)
{
    uint8_t buf[258];
    size_t n = sizeof(buf);
    LONG rv = tk_pcsc_card_transmit(c, apdu, len, buf, &n);
    if (rv == SCARD_S_SUCCESS && n < 2)
        rv = SCARD_F_COMM_ERROR;
    if (rv == SCARD_S_SUCCESS) {
        *ret_sw = (uint16_t)(buf[n - 2] << 8 | buf[n - 1]);
        if (resp) {
            *resp_len = n - 2 < *resp_len ? n - 2 : *resp_len;
            memcpy(resp, buf, *resp_len);
        }
    }
    explicit_bzero(buf, sizeof(buf));
    return rv;
}

/* The value of a one-level tag in the MF's FCP (62 L ...), or NULL. */
static const uint8_t *fcp_find(const uint8_t *fcp, size_t len, uint8_t tag, size_t *ret_len)
{
    if (len < 2 || fcp[0] != 0x62)
        return NULL;
    size_t end = (size_t)fcp[1] + 2 < len ? (size_t)fcp[1] + 2 : len;
    for (size_t i = 2; i + 2 <= end;) {
        size_t l = fcp[i + 1];
        if (i + 2 + l > end)
            return NULL;
        if (fcp[i] == tag) {
            *ret_len = l;
            return fcp + i + 2;
        }
        i += 2 + l;
    }
    return NULL;
}

static int so_pin_incorrect(TkError *error, uint16_t sw)
{
    int tries = tk_pcsc_verify_status_to_tries((uint8_t)(sw >> 8), (uint8_t)sw, -1);
    if (tries == 0)
        return tk_error_set(error, -EPERM, TK_ERROR_PIN_LOCKED,
                            "The SO PIN is locked: the card cannot be erased.");
    if (tries > 0)
        return tk_error_set(error, -ENOLCK, TK_ERROR_PIN_INCORRECT,
                            "The SO PIN is incorrect: %d %s left before it locks. Nothing was "
                            "erased. Check it and try again.",
                            tries, tries == 1 ? "try" : "tries");
    return tk_error_set(error, -EIO, TK_ERROR_FAILED,
                        "The card refused the SO PIN (status %04X). Nothing was erased.", sw);
}

static int verify_so_pin(TkPcscCard *c, uint8_t ref, const TkSecret *so_pin, TkError *error)
{
    if (!so_pin || so_pin->len == 0 || so_pin->len > MYEID_PIN_LEN)
        return tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                            "Erasing this card takes its SO PIN, of at most %d characters.",
                            MYEID_PIN_LEN);
    uint8_t apdu[5 + MYEID_PIN_LEN] = {0x00, 0x20, 0x00, ref, MYEID_PIN_LEN};
    memset(apdu + 5, 0xFF, MYEID_PIN_LEN);
    memcpy(apdu + 5, so_pin->data, so_pin->len);
    uint16_t sw = 0;
    LONG rv = erase_transmit(c, apdu, sizeof(apdu), NULL, NULL, &sw);
    explicit_bzero(apdu, sizeof(apdu));
    if (rv != SCARD_S_SUCCESS)
        return tk_pcsc_error_set(error, rv, "verifying the SO PIN before erasing the card");
    return sw == 0x9000 ? 0 : so_pin_incorrect(error, sw);
}

int tk_myeid_erase(const char *reader, const TkSecret *so_pin, TkError *error)
{
    if (isempty(reader))
        return tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT, "No reader given");

    /* No other client's APDU may land between the VERIFY and the erase. */
    _cleanup_(tk_pcsc_card_close) TkPcscCard c = {};
    int r = tk_pcsc_card_open(&c, reader, "connecting to the card to erase it",
                              "locking the card for erasing it", error);
    if (r < 0)
        return r;

    /* A MyEID is known by its answers, as the probe knows it, not by its ATR. */
    r = tk_pcsc_identify_myeid(tk_pcsc_card_transmit, &c, error);
    if (r < 0)
        return r;

    static const uint8_t select_mf[] = {0x00, 0xA4, 0x00, 0x04, 0x02, 0x3F, 0x00, 0x00};
    uint8_t fcp[256];
    size_t fcp_len = sizeof(fcp);
    uint16_t sw = 0;
    LONG rv = erase_transmit(&c, select_mf, sizeof(select_mf), fcp, &fcp_len, &sw);
    if (rv != SCARD_S_SUCCESS)
        return tk_pcsc_error_set(error, rv, "selecting the card's MF");
    size_t lcs_len = 0, acl_len = 0;
    const uint8_t *lcs = fcp_find(fcp, fcp_len, 0x8A, &lcs_len);
    const uint8_t *acl = fcp_find(fcp, fcp_len, 0x86, &acl_len);
    if (sw != 0x9000 || !lcs || lcs_len != 1 || !acl || acl_len != 3)
        return tk_error_set(error, -EIO, TK_ERROR_FAILED,
                            "The card did not describe its MF (status %04X): it cannot be "
                            "erased.",
                            sw);
    /* In the creation state the card checks no access condition, and pkcs15-init's own erase
     * asks for no PIN. */
    if (lcs[0] != LCS_ACTIVATED)
        return 0;

    /* INITIALISE APPLET is allowed by the MF's delete access condition. */
    uint8_t ac = acl[1] >> 4;
    if (ac == AC_NEVER)
        return tk_error_set(error, -EIO, TK_ERROR_FAILED,
                            "This card was personalised so that it can never be erased.");
    if (ac != AC_ALWAYS && ac != MYEID_REF_SO)
        return tk_error_set(error, -EIO, TK_ERROR_FAILED,
                            "This card is erased with its PIN of reference %u, not its SO PIN: "
                            "tokend cannot erase it.",
                            ac);
    if (ac == MYEID_REF_SO) {
        r = verify_so_pin(&c, ac, so_pin, error);
        if (r < 0)
            return r;
    }

    /* The access conditions of OpenSC's myeid profile (MF: create with the user PIN, delete
     * with the SO PIN; 5015: create and delete with the user PIN). The card stays in its
     * creation state, where they are not checked, until pkcs15-init personalises it. */
    static const uint8_t init_applet[] = {0x00, 0xDA, 0x01, 0xE0, 0x08, 0xFF, 0xFF,
                                          0x11, 0x3F, 0xFF, 0x11, 0x1F, 0xFF};
    rv = erase_transmit(&c, init_applet, sizeof(init_applet), NULL, NULL, &sw);
    if (rv != SCARD_S_SUCCESS)
        return tk_pcsc_error_set(error, rv, "erasing the card");
    if (sw != 0x9000)
        return tk_error_set(error, -EIO, TK_ERROR_FAILED,
                            "The card refused to be erased (status %04X).", sw);
    return 0;
}
