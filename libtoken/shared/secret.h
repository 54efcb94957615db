/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "macro.h"

/* A PIN, PUK or key held in memory that is locked against swapping where possible and wiped
 * with explicit_bzero() when freed. The bytes are always followed by a NUL so they can be
 * handed to PKCS#11 APIs that take C strings; len does not count it. Never format one into a
 * message. */
typedef struct TkSecret {
    char *data;
    size_t len;
} TkSecret;

/* Copies len bytes of data into a new secret. Embedded NUL bytes are refused (-EINVAL):
 * PKCS#11 PINs are passed as C strings further down. */
int tk_secret_new(const void *data, size_t len, TkSecret **ret);
int tk_secret_new_string(const char *s, TkSecret **ret);
/* The same for keys, which may hold NUL bytes; still NUL-terminated, never a PIN. */
int tk_secret_new_binary(const void *data, size_t len, TkSecret **ret);
TkSecret *tk_secret_free(TkSecret *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(TkSecret *, tk_secret_free)
#define _cleanup_secret_ _cleanup_(tk_secret_freep)

int tk_secret_equal(const TkSecret *a, const TkSecret *b);

/* Wipes a caller-owned buffer; a NULL-safe wrapper for cleanup attributes. */
void tk_wipe(void *p, size_t len);
