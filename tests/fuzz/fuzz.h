/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the libFuzzer targets share: the entry point libFuzzer calls, reading an input piece by
 * piece, a check that fails loudly, and a private scratch directory for targets whose parser
 * reads a file. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property of the code under test that must hold whatever the input: abort(), which
 * libFuzzer reports as a crash and saves the input for. */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: %s: check failed: %s\n", __FILE__, __LINE__, __func__, #cond); \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* The input, consumed from the front. Reading past its end gives zeros and empty pieces, so
 * that every input, however short, is a valid one. */
typedef struct FuzzInput {
    const uint8_t *p;
    size_t left;
} FuzzInput;

static inline uint8_t fuzz_u8(FuzzInput *in)
{
    if (in->left == 0)
        return 0;
    in->left--;
    return *in->p++;
}

static inline uint16_t fuzz_u16(FuzzInput *in)
{
    uint16_t hi = fuzz_u8(in);
    return (uint16_t)(hi << 8 | fuzz_u8(in));
}

/* Up to want bytes; returns how many there were. */
static inline size_t fuzz_bytes(FuzzInput *in, size_t want, const uint8_t **ret)
{
    size_t n = want < in->left ? want : in->left;
    *ret = in->p;
    in->p += n;
    in->left -= n;
    return n;
}

/* One piece: a 16-bit big-endian length and that many bytes (fewer where the input ends).
 * False when the input is used up. */
static inline bool fuzz_piece(FuzzInput *in, const uint8_t **ret, size_t *ret_len)
{
    if (in->left == 0)
        return false;
    *ret_len = fuzz_bytes(in, fuzz_u16(in), ret);
    return true;
}

/* A directory of this process's own, made at the first call (under $TMPDIR, else /tmp) and
 * removed, with what is left in it, when the process exits. */
const char *fuzz_scratch_dir(void);
/* Writes size bytes to a file of that name in the scratch directory, replacing it; returns
 * its path (static storage, overwritten by the next call). */
const char *fuzz_write_file(const char *name, const uint8_t *data, size_t size);
