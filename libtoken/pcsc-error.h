/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <PCSC/winscard.h>
#include <stdbool.h>

#include "token-error.h"

/* The one place that turns a PC/SC return code into a negative errno and a bus error a person
 * can act on. Success maps to 0. */
int tk_pcsc_error_to_errno(LONG rv);
const char *tk_pcsc_error_to_name(LONG rv);

/* Fills error with the mapped name and a message naming what was attempted ("what", e.g.
 * "listing readers"), and returns the mapped errno. Returns 0 and leaves error alone for
 * SCARD_S_SUCCESS. */
int tk_pcsc_error_set(TkError *error, LONG rv, const char *what);

/* pcscd went away or its context is no longer valid: a monitor reconnects on these. */
bool tk_pcsc_error_is_service_gone(LONG rv);
