/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdarg.h>
#include <stdbool.h>

#include "bus-names.h"
#include "macro.h"

/* Error names as they appear on the bus: org.tokend.Tokend1.Error.<Name>. libtoken names its
 * errors by these too, so that an error goes from the card to the caller with one name. */
#define TK_ERROR_NAME(n) TOKEND_ERROR_PREFIX n

#define TK_ERROR_PIN_INCORRECT       TK_ERROR_NAME("PinIncorrect")
#define TK_ERROR_PIN_LOCKED          TK_ERROR_NAME("PinLocked")
#define TK_ERROR_PIN_POLICY          TK_ERROR_NAME("PinPolicy")
#define TK_ERROR_PIN_FINAL_TRY       TK_ERROR_NAME("PinFinalTry")
#define TK_ERROR_SO_PIN_FINAL_TRY    TK_ERROR_NAME("SoPinFinalTry")
#define TK_ERROR_TOKEN_REMOVED       TK_ERROR_NAME("TokenRemoved")
#define TK_ERROR_TOKEN_NOT_FOUND     TK_ERROR_NAME("TokenNotFound")
#define TK_ERROR_NO_MATCHING_KEY     TK_ERROR_NAME("NoMatchingKey")
#define TK_ERROR_INVALID_CERTIFICATE TK_ERROR_NAME("InvalidCertificate")
#define TK_ERROR_DUPLICATE           TK_ERROR_NAME("Duplicate")
#define TK_ERROR_UNSUPPORTED         TK_ERROR_NAME("Unsupported")
#define TK_ERROR_INVALID_ARGUMENT    TK_ERROR_NAME("InvalidArgument")
#define TK_ERROR_BUSY                TK_ERROR_NAME("Busy")
#define TK_ERROR_SERIAL_CONFLICT     TK_ERROR_NAME("SerialConflict")
#define TK_ERROR_TIMEOUT             TK_ERROR_NAME("Timeout")
#define TK_ERROR_FAILED              TK_ERROR_NAME("Failed")

/* Every error name with its errno, one to one: token-error.c's lookups and the sd-bus error
 * map (bus-error.c) are both made from this list. */
#define TK_ERROR_FOREACH(X)                  \
    X(TK_ERROR_PIN_INCORRECT, ENOLCK)        \
    X(TK_ERROR_PIN_LOCKED, EPERM)            \
    X(TK_ERROR_PIN_POLICY, EKEYREJECTED)     \
    X(TK_ERROR_PIN_FINAL_TRY, EDQUOT)        \
    X(TK_ERROR_SO_PIN_FINAL_TRY, EDEADLK)    \
    X(TK_ERROR_TOKEN_REMOVED, ENODEV)        \
    X(TK_ERROR_TOKEN_NOT_FOUND, ENXIO)       \
    X(TK_ERROR_NO_MATCHING_KEY, ENOKEY)      \
    X(TK_ERROR_INVALID_CERTIFICATE, EBADMSG) \
    X(TK_ERROR_DUPLICATE, EEXIST)            \
    X(TK_ERROR_UNSUPPORTED, EOPNOTSUPP)      \
    X(TK_ERROR_INVALID_ARGUMENT, EINVAL)     \
    X(TK_ERROR_BUSY, EBUSY)                  \
    X(TK_ERROR_SERIAL_CONFLICT, ENOTUNIQ)    \
    X(TK_ERROR_TIMEOUT, ETIME)               \
    X(TK_ERROR_FAILED, EIO)

/* What went wrong, for a person: a bus error name (one of the above) and a message that says
 * what to do. Functions return a negative errno and fill this in when it is non-NULL. */
typedef struct TkError {
    char name[64];
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
/* Whether name is one of tokend's own (as opposed to a bus or polkit error). */
bool tk_error_name_is_known(const char *name);
/* The last part of an error name ("PinIncorrect", "AccessDenied"), for records and logs. */
const char *tk_error_short_name(const char *name);
const char *tk_error_errno_to_name(int err);
