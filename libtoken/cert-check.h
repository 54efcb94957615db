/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "token.h"

/* What ImportCertificate checks before it touches the token: the certificate and each CA
 * certificate of its chain are DER or PEM X.509 of at most 64 KiB, the chain has at most 16,
 * and the chain issues the certificate. No token, no file: the caller's bytes only. */

/* Parses and checks cert and chain. On success the parsed certificate and chain (empty when
 * n_chain is 0); -EBADMSG with InvalidCertificate when a certificate does not parse or the
 * chain does not issue it, -EINVAL with InvalidArgument for a chain that is too long. */
int tk_certificate_check(const uint8_t *cert, size_t cert_len, const TkBlob *chain, size_t n_chain,
                         X509 **ret_leaf, STACK_OF(X509) * *ret_chain, TkError *error);

/* Whether x509 certifies the public key pub (a key pair's public half will do). */
bool tk_certificate_matches_key(X509 *x509, EVP_PKEY *pub);
