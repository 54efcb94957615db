/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "bus-names.h"
#include "format.h"
#include "i18n.h"
#include "macro.h"
#include "text-escape.h"
#include "token-error.h"

int exit_code_for_error(const char *name)
{
    static const struct {
        const char *name;
        int code;
    } table[] = {
        {"org.freedesktop.DBus.Error.AccessDenied", EXIT_NOT_AUTHORISED},
        {"org.freedesktop.DBus.Error.InteractiveAuthorizationRequired", EXIT_NOT_AUTHORISED},
        {"org.freedesktop.DBus.Error.AuthFailed", EXIT_NOT_AUTHORISED},
        {TK_ERROR_TOKEN_NOT_FOUND, EXIT_NO_TOKEN},
        {TK_ERROR_TOKEN_REMOVED, EXIT_NO_TOKEN},
        {"org.freedesktop.DBus.Error.UnknownObject", EXIT_NO_TOKEN},
        {TK_ERROR_PIN_INCORRECT, EXIT_PIN_INCORRECT},
        {TK_ERROR_PIN_LOCKED, EXIT_PIN_LOCKED},
        {TK_ERROR_PIN_POLICY, EXIT_POLICY},
        {TK_ERROR_SO_PIN_FINAL_TRY, EXIT_POLICY},
        {TK_ERROR_PIN_FINAL_TRY, EXIT_POLICY},
        {TK_ERROR_SERIAL_CONFLICT, EXIT_POLICY},
        {CLI_ERROR_USAGE, EXIT_USAGE},
        {CLI_ERROR_AMBIGUOUS, EXIT_USAGE},
        {CLI_ERROR_NO_PIN, EXIT_USAGE},
        {CLI_ERROR_NO_TOKEN, EXIT_NO_TOKEN},
        {CLI_ERROR_AUDIT_BROKEN, EXIT_AUDIT_BROKEN},
    };

    if (!name)
        return EXIT_FAILED;
    FOREACH_ARRAY (t, table, ELEMENTSOF(table))
        if (streq(t->name, name))
            return t->code;
    return EXIT_FAILED;
}

/* Always said, so that staff know how far to trust a count: the card's own counter, the
 * PKCS#11 flags, tokend's record of failed attempts, or nothing. */
static const char *source_note(const char *source)
{
    if (streq_ptr(source, "card"))
        return _(" (card)");
    if (streq_ptr(source, "flags"))
        return _(" (flags)");
    if (streq_ptr(source, "ledger"))
        return _(" (ledger)");
    if (streq_ptr(source, "unknown"))
        return _(" (unknown)");
    return "";
}

int format_pin_state(const char *state, int retries, const char *source, char *buf, size_t size)
{
    const char *note = source_note(source);
    int n;

    if (!buf || size == 0)
        return -EINVAL;

    if (isempty(state))
        n = snprintf(buf, size, _("unknown"));
    else if (streq(state, "locked"))
        n = snprintf(buf, size, _("LOCKED — needs unblock at the helpdesk%s"), note);
    else if (streq(state, "final-try"))
        n = snprintf(buf, size, _("final try%s"), note);
    else if (streq(state, "count-low")) {
        if (retries == 1)
            n = snprintf(buf, size, _("final try%s"), note);
        else if (retries > 1)
            n = snprintf(buf, size, ngettext("%d try left%s", "%d tries left%s", retries), retries,
                         note);
        else
            n = snprintf(buf, size, _("few tries left%s"), note);
    } else if (streq(state, "to-be-changed"))
        n = snprintf(buf, size, _("must be changed before use"));
    else if (streq(state, "ok")) {
        if (retries > 0)
            n = snprintf(buf, size, ngettext("ok, %d try left%s", "ok, %d tries left%s", retries),
                         retries, note);
        else
            n = snprintf(buf, size, _("ok%s"), note);
    } else
        n = snprintf(buf, size, "%s", state);

    if (n < 0)
        return -EIO;
    if ((size_t)n >= size)
        return -ENOBUFS;
    return 0;
}

int pin_state_severity(const char *state)
{
    if (streq_ptr(state, "locked"))
        return 2;
    if (streq_ptr(state, "final-try") || streq_ptr(state, "count-low") ||
        streq_ptr(state, "to-be-changed"))
        return 1;
    return 0;
}

bool expiry_is_past(uint64_t not_after, time_t now)
{
    return now >= 0 && not_after <= (uint64_t)now;
}

int expiry_severity(uint64_t not_after, time_t now, unsigned warn_days)
{
    if (expiry_is_past(not_after, now))
        return 2;
    return not_after - (uint64_t)(now < 0 ? 0 : now) < (uint64_t)warn_days * 86400 ? 1 : 0;
}

int format_expiry(uint64_t not_after, time_t now, char *buf, size_t size)
{
    const uint64_t day = 24 * 60 * 60;
    char date[32];
    struct tm tm;
    time_t t = (time_t)not_after;
    int n;

    if (!buf || size == 0)
        return -EINVAL;
    if (!gmtime_r(&t, &tm) || strftime(date, sizeof(date), "%Y-%m-%d", &tm) == 0)
        return -ERANGE;

    if (expiry_is_past(not_after, now)) {
        uint64_t ago = ((uint64_t)now - not_after) / day;
        if (ago == 0)
            n = snprintf(buf, size, _("EXPIRED today (%s)"), date);
        else
            n = snprintf(buf, size,
                         ngettext("EXPIRED %llu day ago (%s)", "EXPIRED %llu days ago (%s)", ago),
                         (unsigned long long)ago, date);
    } else {
        uint64_t left = (not_after - (uint64_t)now) / day;
        if (left == 0)
            n = snprintf(buf, size, _("expires %s, today"), date);
        else
            n = snprintf(buf, size,
                         ngettext("expires %s, in %llu day", "expires %s, in %llu days", left),
                         date, (unsigned long long)left);
    }
    if (n < 0)
        return -EIO;
    if ((size_t)n >= size)
        return -ENOBUFS;
    return 0;
}

int format_timestamp_usec(uint64_t usec, char *buf, size_t size)
{
    time_t t = (time_t)(usec / 1000000);
    char date[32];
    struct tm tm;

    if (!buf || size == 0)
        return -EINVAL;
    if (!gmtime_r(&t, &tm) || strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        return -ERANGE;
    int n = snprintf(buf, size, "%s.%06lluZ", date, (unsigned long long)(usec % 1000000));
    if (n < 0)
        return -EIO;
    return (size_t)n >= size ? -ENOBUFS : 0;
}

int parse_hex(const char *s, uint8_t **ret, size_t *ret_len)
{
    _cleanup_free_ uint8_t *out = NULL;
    size_t n = 0;

    if (!s || !ret || !ret_len)
        return -EINVAL;
    if (strncmp(s, "0x", 2) == 0 || strncmp(s, "0X", 2) == 0)
        s += 2;
    out = malloc(strlen(s) / 2 + 1);
    if (!out)
        return -ENOMEM;
    while (*s) {
        if (*s == ':') {
            s++;
            continue;
        }
        int hi = OPENSSL_hexchar2int((unsigned char)s[0]);
        int lo = hi < 0 ? -1 : OPENSSL_hexchar2int((unsigned char)s[1]);
        if (hi < 0 || lo < 0)
            return -EINVAL;
        out[n++] = (uint8_t)(hi << 4 | lo);
        s += 2;
    }
    if (n == 0)
        return -EINVAL;
    *ret = TAKE_PTR(out);
    *ret_len = n;
    return 0;
}

char *hex_string(const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char *s = malloc(n * 2 + 1);

    if (!s)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        s[2 * i] = digits[p[i] >> 4];
        s[2 * i + 1] = digits[p[i] & 0xf];
    }
    s[2 * n] = 0;
    return s;
}

const char *terminal_text(const char *s, char **buf)
{
    free(*buf);
    *buf = NULL;
    if (!s)
        return "";
    return tk_escape_for_terminal(s, buf) < 0 ? "?" : *buf;
}

int json_text_for_terminal(const char *json, char **ret)
{
    size_t len = strlen(json);
    /* DEL grows from 1 byte to 6. */
    char *out = malloc(len * 6 + 1), *p = out;
    if (!out)
        return -ENOMEM;
    const unsigned char *u = (const unsigned char *)json;
    /* Such characters occur only inside strings, where a \u escape means the same; in UTF-8,
     * C1 is 0xc2 0x80..0x9f, and 0xc2 only ever starts a character. */
    for (size_t i = 0; i < len; i++)
        if (u[i] == 0x7f)
            p += sprintf(p, "\\u007f");
        else if (u[i] == 0xc2 && u[i + 1] >= 0x80 && u[i + 1] < 0xa0)
            p += sprintf(p, "\\u%04x", u[++i]);
        else
            *p++ = (char)u[i];
    *p = 0;
    *ret = out;
    return 0;
}

bool key_type_known(const char *type)
{
    static const char *const types[] = {"rsa2048", "rsa3072", "rsa4096", "ec-p256", "ec-p384"};
    FOREACH_ARRAY (t, types, ELEMENTSOF(types))
        if (streq_ptr(*t, type))
            return true;
    return false;
}
