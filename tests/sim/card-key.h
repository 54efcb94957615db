/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "card-fs.h"

/* The card's key operations, done with OpenSSL 3 on the key pair held in a key file. */

/* MyEID algorithm references (MANAGE SECURITY ENVIRONMENT tag 80). */
#define SIM_ALG_RSA_RAW   0x00
#define SIM_ALG_RSA_PKCS1 0x02
#define SIM_ALG_ECDSA     0x04

/* Generates the key pair the key file is sized for: RSA of f->size bits with the public
 * exponent given (big-endian), or EC on the curve of f->size bits. 0 or -errno. */
int sim_key_generate(SimFile *f, const uint8_t *exponent, size_t exponent_len);
/* The public part as GET DATA returns it: what 0x01 (modulus), 0x81 (exponent) or
 * 0x86 (EC point, in a tag 86 TLV) selects. Returns the length or -errno. */
int sim_key_public(const SimFile *f, uint8_t what, uint8_t *out, size_t size);
/* Signs: RSA with PKCS#1 v1.5 type 1 padding added here or raw (input as long as the modulus),
 * ECDSA over the given hash with a DER signature out. Returns the length or -errno. */
int sim_key_sign(const SimFile *f, uint8_t alg, const uint8_t *in, size_t in_len, uint8_t *out,
                 size_t size);
/* RSA decryption, PKCS#1 v1.5 padding removed here or raw. Returns the length or -errno. */
int sim_key_decipher(const SimFile *f, uint8_t alg, const uint8_t *in, size_t in_len, uint8_t *out,
                     size_t size);

/* A key loaded component by component (PUT DATA 01 80..87, as MyEID's LOAD KEY). */
typedef struct SimKeyLoad {
    BIGNUM *rsa[8]; /* indexed by component id - 0x80 */
    BIGNUM *ec_private;
    uint8_t ec_public[160];
    size_t ec_public_len;
} SimKeyLoad;

/* Records one component; once the last one of a key type is in (the public exponent for RSA,
 * the public point for EC), builds the key pair into f. 0 or -errno. */
int sim_key_load(SimKeyLoad *l, SimFile *f, uint8_t component, const uint8_t *v, size_t len);
void sim_key_load_clear(SimKeyLoad *l);
