/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

#include "secret.h"
#include "token-error.h"

#define TK_SO_PIN_DIGITS_MIN 4
#define TK_SO_PIN_DIGITS_MAX 32
#define TK_SITE_KEY_MIN      16
#define TK_SITE_KEY_MAX      4096

/* Derives a token's SO PIN: HMAC-SHA256 under the site key over the serial, rendered as
 * `digits` decimal digits without bias. serial is as libtoken reports it, escaped with
 * tk_utf8_escape(); the MAC is over the bytes that escaping stands for, the token's own. Bytes
 * of the MAC are taken in order; a byte >= 250 is skipped and any other gives the digit
 * byte % 10. When one MAC runs out, the next block is
 * HMAC(site_key, serial || 0x00 || counter as 4 bytes big-endian), counter = 1, 2, ...
 * Returns -EINVAL for an empty serial, one not in tk_utf8_escape()'s form or holding a NUL,
 * or digits outside 4..32. */
int tk_so_pin_derive(const TkSecret *site_key, const char *serial, size_t digits, TkSecret **ret);

/* Reads a site key file (raw bytes, 16..4096 bytes). A file that group or others may read,
 * or that is not a regular file, is refused. The returned secret may hold NUL bytes: use
 * data/len, never treat it as a C string. */
int tk_site_key_load(const char *path, TkSecret **ret, TkError *error);
