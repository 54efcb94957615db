/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Exit codes of tokenctl, documented in tokenctl(1). Keep them stable: scripts test them. */
enum {
    EXIT_OK = 0,
    EXIT_FAILED = 1,
    EXIT_USAGE = 2,
    EXIT_NOT_AUTHORISED = 3,
    EXIT_NO_TOKEN = 4,
    EXIT_PIN_INCORRECT = 5,
    EXIT_PIN_LOCKED = 6,
    EXIT_POLICY = 7,
    EXIT_AUDIT_BROKEN = 8,
    EXIT_EXPIRING = 9,
};

/* Error names tokenctl reports for failures found before the daemon is asked. */
#define CLI_ERROR_PREFIX        "org.tokend.tokenctl.Error."
#define CLI_ERROR_USAGE         CLI_ERROR_PREFIX "Usage"
#define CLI_ERROR_NO_TOKEN      CLI_ERROR_PREFIX "NoSuchToken"
#define CLI_ERROR_AMBIGUOUS     CLI_ERROR_PREFIX "AmbiguousToken"
#define CLI_ERROR_NO_PIN        CLI_ERROR_PREFIX "NoPin"
#define CLI_ERROR_FAILED        CLI_ERROR_PREFIX "Failed"
#define CLI_ERROR_AUDIT_BROKEN  CLI_ERROR_PREFIX "AuditChainBroken"
#define CLI_ERROR_NOT_CONFIRMED CLI_ERROR_PREFIX "NotConfirmed"

/* The exit code for an error name, from the daemon or from tokenctl itself. */
int exit_code_for_error(const char *name);

/* "ok", "2 tries left", "final try", "LOCKED — needs unblock at the helpdesk", with a note
 * on where the count came from when it is not from the card. state and source are the
 * daemon's property values (NULL when absent); retries is -1 when unknown. */
int format_pin_state(const char *state, int retries, const char *source, char *buf, size_t size);

/* Severity of a PIN state, for colour: 0 fine, 1 warn, 2 bad. */
int pin_state_severity(const char *state);

/* "expires 2027-03-01, in 96 days", "expires 2026-11-25, today", "EXPIRED 3 days ago". */
int format_expiry(uint64_t not_after, time_t now, char *buf, size_t size);
bool expiry_is_past(uint64_t not_after, time_t now);

/* How a certificate's expiry is shown, alike in every command: 2 expired, 1 within warn_days
 * (expires soon), 0 later. */
int expiry_severity(uint64_t not_after, time_t now, unsigned warn_days);

/* The default of --expiry-warn, in days. */
#define EXPIRY_WARN_DAYS_DEFAULT 30

/* RFC 3339 in UTC with microseconds, "2026-11-25T12:00:00.000042Z", for usec since the epoch. */
int format_timestamp_usec(uint64_t usec, char *buf, size_t size);

/* s as a person's terminal may be sent it, control characters written as text
 * (tk_escape_for_terminal()); the copy is kept in *buf for the caller to free. "" for NULL,
 * and "?" when out of memory: never s raw. */
const char *terminal_text(const char *s, char **buf);

/* JSON text with DEL and the C1 controls written as \u00NN: json-c escapes only U+0000..U+001F,
 * and U+009B is CSI to some terminals. The same JSON, safe to print. */
int json_text_for_terminal(const char *json, char **ret);

/* Hex text (with optional ':' separators) to bytes; -EINVAL on bad input or empty. */
int parse_hex(const char *s, uint8_t **ret, size_t *ret_len);
/* Bytes to lower-case hex without separators. */
char *hex_string(const uint8_t *p, size_t n);

/* Whether type is a key type GenerateKeyPair takes: rsa2048, rsa3072, rsa4096, ec-p256 or
 * ec-p384. */
bool key_type_known(const char *type);
