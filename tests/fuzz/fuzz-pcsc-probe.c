/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The retry probe's reading of what a card answers (tk_pcsc_probe_card(), libtoken/pcsc-probe.c):
 * the input is the card's responses, one piece each (data and status words), to the APDUs in the
 * order the probe sends them; once the pieces are used up the card is pulled. Whatever a card
 * answers, the probe sends nothing but the SELECT of the PKCS#15 application, MyEID's GET DATA
 * 01 A0, GET RESPONSE and VERIFY without data (no PIN, nothing written); it takes a card as a
 * MyEID only after full card data, and leaves its outputs alone when it does not. */
#include <string.h>

#include "fuzz.h"
#include "pcsc-probe.h"

static const uint8_t select_aid[] = {0x00, 0xA4, 0x04, 0x00, 0x0C, 0xA0, 0x00, 0x00, 0x00,
                                     0x63, 0x50, 0x4B, 0x43, 0x53, 0x2D, 0x31, 0x35, 0x00};
static const uint8_t get_card_data[] = {0x00, 0xCA, 0x01, 0xA0, 0x14};

typedef struct Card {
    FuzzInput in;
    unsigned sent;
    bool card_data; /* the last GET DATA or GET RESPONSE gave 20 bytes and 90 00 */
} Card;

static bool allowed(const uint8_t *apdu, size_t len)
{
    if (len == sizeof(select_aid) && memcmp(apdu, select_aid, len) == 0)
        return true;
    if (len == sizeof(get_card_data) && memcmp(apdu, get_card_data, len) == 0)
        return true;
    if (len == 5 && apdu[0] == 0x00 && apdu[1] == 0xC0 && apdu[2] == 0x00 && apdu[3] == 0x00)
        return true;
    return len == 4 && apdu[0] == 0x00 && apdu[1] == 0x20 && apdu[2] == 0x00 &&
           (apdu[3] == 0x01 || apdu[3] == 0x03);
}

static LONG transmit(void *userdata, const uint8_t *apdu, size_t apdu_len, uint8_t *resp,
                     size_t *resp_len)
{
    Card *c = userdata;
    FUZZ_CHECK(allowed(apdu, apdu_len));
    FUZZ_CHECK(++c->sent <= 5);
    const uint8_t *p;
    size_t n;
    if (!fuzz_piece(&c->in, &p, &n))
        return SCARD_W_REMOVED_CARD;
    if (n > *resp_len)
        return SCARD_E_INSUFFICIENT_BUFFER;
    memcpy(resp, p, n);
    *resp_len = n;
    if (apdu[1] == 0xCA || apdu[1] == 0xC0)
        c->card_data = n == 22 && p[20] == 0x90 && p[21] == 0x00;
    return SCARD_S_SUCCESS;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Card c = {.in = {data, size}};
    int user = -7, so = -7, puk = -7;
    TkError e = {};
    int r = tk_pcsc_probe_card(transmit, &c, &user, &so, &puk, &e);
    if (r < 0) {
        FUZZ_CHECK(tk_error_is_set(&e));
        FUZZ_CHECK(user == -7 && so == -7 && puk == -7);
        return 0;
    }
    FUZZ_CHECK(r == 0 && c.card_data);
    FUZZ_CHECK(user >= -1 && user <= 15 && so >= -1 && so <= 15 && puk == -1);
    return 0;
}
