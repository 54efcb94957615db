/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The card simulator as OpenSC reaches it through vpcd: the input is the byte stream from the
 * reader, read frame by frame with vpcd_read_frame() and answered as tokend-sim's on_vpcd()
 * answers it (a 1-byte frame is a control code, a longer one an APDU for sim_card_apdu()),
 * on a blank card (which enforces no access condition until it is activated, so every command
 * is reachable). A card that changed is saved and loaded again, as when it is pulled and
 * reinserted: what the APDUs made must survive that. */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "card-store.h"
#include "card.h"
#include "fuzz.h"
#include "macro.h"
#include "vpcd-link.h"

/* Generating an RSA key is OpenSSL's work, about 0.2 s for 2048 bits here, and an input of
 * 4 KiB can ask for hundreds: the rest of an input is not held up behind more than this many. */
#define RSA_GENERATIONS_MAX 1

static const uint8_t serial[10] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99};

static bool rsa_generation(const SimCard *c, const uint8_t *apdu, size_t n)
{
    return n >= 4 && apdu[1] == 0x46 && c->current->kind == SIM_FILE_KEY &&
           c->current->descriptor == SIM_DESC_KEY_RSA;
}

static void check_survives_reinsertion(const SimCard *c)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/card.json", fuzz_scratch_dir());
    FUZZ_CHECK(sim_card_save(c, path) == 0);
    SimCard again;
    FUZZ_CHECK(sim_card_load(&again, path) == 0);
    FUZZ_CHECK(memcmp(again.serial, c->serial, sizeof(c->serial)) == 0);
    FUZZ_CHECK(again.activated == c->activated);
    sim_card_done(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int reader = -1;
    if (reader < 0) {
        /* What the card answers goes where vpcd would read it; nobody here does. */
        reader = open("/dev/null", O_WRONLY | O_CLOEXEC);
        FUZZ_CHECK(reader >= 0);
    }
    _cleanup_close_ int stream = memfd_create("vpcd", MFD_CLOEXEC);
    FUZZ_CHECK(stream >= 0);
    FUZZ_CHECK(size == 0 || write(stream, data, size) == (ssize_t)size);
    FUZZ_CHECK(lseek(stream, 0, SEEK_SET) == 0);

    SimCard card;
    FUZZ_CHECK(sim_card_init_blank(&card, serial) == 0);
    uint8_t frame[VPCD_FRAME_MAX], out[VPCD_FRAME_MAX];
    unsigned rsa_generations = 0;
    for (;;) {
        /* The end of the stream, or a frame too long or empty: tokend-sim drops the reader
         * then. */
        int n = vpcd_read_frame(stream, frame, sizeof(frame));
        if (n <= 0)
            break;
        if (n == 1) {
            if (frame[0] == VPCD_CTRL_ATR)
                FUZZ_CHECK(vpcd_write_frame(reader, sim_card_atr, sim_card_atr_len) == 0);
            else if (frame[0] <= VPCD_CTRL_RESET)
                sim_card_reset(&card);
            continue;
        }
        if (rsa_generation(&card, frame, (size_t)n) && rsa_generations++ >= RSA_GENERATIONS_MAX)
            continue;
        size_t k = sim_card_apdu(&card, frame, (size_t)n, out, sizeof(out));
        FUZZ_CHECK(k >= 2 && k <= sizeof(out));
        FUZZ_CHECK(vpcd_write_frame(reader, out, k) == 0);
    }
    if (card.dirty)
        check_survives_reinsertion(&card);
    sim_card_done(&card);
    return 0;
}
