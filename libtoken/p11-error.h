/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "token-error.h"

/* The one place that maps PKCS#11 return values to negative errno and to bus error names,
 * with a message that says what to do. what names the operation ("log in", "generate the key
 * pair"), and is put at the start of the message. */
int tk_error_from_ckr(TkError *error, unsigned long rv, const char *what);

/* The CKR_* code of the last failed libp11 call, taken from OpenSSL's error queue (which is
 * cleared). CKR_GENERAL_ERROR when libp11 left no PKCS#11 code. */
unsigned long tk_p11_last_ckr(void);

/* Fills error from the last failed libp11 call. */
int tk_error_from_libp11(TkError *error, const char *what);

const char *tk_ckr_to_string(unsigned long rv);
