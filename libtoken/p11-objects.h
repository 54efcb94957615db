/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "p11-internal.h"

/* Shared by the p11-*.c files: describing keys and certificates, finding a key by id. */

int tk_describe_public_key(EVP_PKEY *pkey, TkKeyType *ret_type, unsigned *ret_bits,
                           char **ret_curve);
int tk_describe_certificate(X509 *x509, TkObject *o);

/* The key with this id in the token's list (the caller logged in for private keys); -ENOENT
 * without touching error when there is none. */
int tk_token_find_key(TkToken *t, bool private_key, const uint8_t *id, size_t id_len,
                      PKCS11_KEY **ret, TkError *error);

/* The public half of a key: a public key object's own, a private key's from the public key
 * object with its id; NULL when the token has none (a key generation cut short can leave a
 * private key alone). libp11 0.4.12's PKCS11_get_public_key() dereferences NULL for a private
 * key without a public key object, so it is asked about public key objects only. */
EVP_PKEY *tk_token_public_half(TkToken *t, PKCS11_KEY *key);
