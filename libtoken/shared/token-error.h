/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdarg.h>

#include "macro.h"

/* Error names as they appear on the bus, under org.tokend.Tokend1.Error. */
#define TK_ERROR_PIN_INCORRECT       "PinIncorrect"
#define TK_ERROR_PIN_LOCKED          "PinLocked"
#define TK_ERROR_PIN_POLICY          "PinPolicy"
#define TK_ERROR_PIN_FINAL_TRY       "PinFinalTry"
#define TK_ERROR_SO_PIN_FINAL_TRY    "SoPinFinalTry"
#define TK_ERROR_TOKEN_REMOVED       "TokenRemoved"
#define TK_ERROR_TOKEN_NOT_FOUND     "TokenNotFound"
#define TK_ERROR_NO_MATCHING_KEY     "NoMatchingKey"
#define TK_ERROR_INVALID_CERTIFICATE "InvalidCertificate"
#define TK_ERROR_DUPLICATE           "Duplicate"
#define TK_ERROR_UNSUPPORTED         "Unsupported"
#define TK_ERROR_INVALID_ARGUMENT    "InvalidArgument"
#define TK_ERROR_BUSY                "Busy"
#define TK_ERROR_SERIAL_CONFLICT     "SerialConflict"
#define TK_ERROR_FAILED              "Failed"

/* What went wrong, for a person: a bus error name (one of the above) and a message that says
 * what to do. Functions return a negative errno and fill this in when it is non-NULL. */
typedef struct TkError {
    char name[32];
    char message[512];
} TkError;

/* Sets name and message and returns err (a negative errno), so callers can write
 * "return tk_error_set(error, -EINVAL, TK_ERROR_INVALID_ARGUMENT, ...);". Error may be NULL. */
int tk_error_set(TkError *error, int err, const char *name, const char *fmt, ...) _printf_(4, 5);
int tk_error_setv(TkError *error, int err, const char *name, const char *fmt, va_list ap)
    _printf_(4, 0);
int tk_error_is_set(const TkError *error);

/* The errno that goes with a bus error name, and the reverse (a name for an errno that came
 * without one). The table lives in token-error.c. */
int tk_error_name_to_errno(const char *name);
const char *tk_error_errno_to_name(int err);
