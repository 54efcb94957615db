/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The leading arguments of the Token methods, read before their options. */
#include <errno.h>
#include <string.h>

#include "arguments.h"
#include "dn.h"
#include "options.h"
#include "text-escape.h"
#include "token.h"

int arguments_read(sd_bus_message *m, const char *member, const Operation **ret, TkError *e)
{
    const char *variant = NULL, *s;
    const void *p;
    size_t n;
    int r;

    if (streq(member, "ListObjects")) {
        r = options_list_objects_row(m, ret);
        if (r < 0)
            return tk_error_set(e, r, TK_ERROR_INVALID_ARGUMENT, "Malformed options.");
        return 0;
    } else if (streq(member, "GenerateKeyPair")) {
        TkKeySpec spec;
        r = sd_bus_message_read_basic(m, 's', &s);
        if (r >= 0 && tk_key_spec_from_string(s, &spec) < 0)
            return tk_error_set(e, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                                "Unknown key type \"%.32s\": use rsa2048, rsa3072, rsa4096, "
                                "ec-p256 or ec-p384.",
                                s);
    } else if (streq(member, "CreateRequest")) {
        r = sd_bus_message_read_array(m, 'y', &p, &n);
        if (r >= 0 && (n == 0 || n > 64))
            return tk_error_set(e, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                                "Give the id of the key that signs the request (1 to 64 bytes).");
        if (r >= 0)
            r = sd_bus_message_read_basic(m, 's', &s);
        if (r >= 0 && tk_text_check(s, 1, 1024) < 0)
            return tk_error_set(e, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                                "Give the request's subject (RFC 4514, e.g. CN=Name): printable "
                                "text of at most 1024 characters.");
        /* The subject is parsed here as the worker will parse it, so that a name it would
         * refuse (a control character as a hex pair, an unknown type) is refused before
         * polkit is asked, and a bounded parse is all such a call costs. */
        if (r >= 0) {
            X509_NAME *name = NULL;
            r = tk_dn_parse(s, &name, e);
            X509_NAME_free(name);
            if (r < 0)
                return r;
        }
    } else if (streq(member, "ImportCertificate")) {
        r = sd_bus_message_read_array(m, 'y', &p, &n);
        if (r >= 0 && (n == 0 || n > 64 * 1024))
            return tk_error_set(e, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                                "Give the certificate, DER or PEM, of at most 64 KiB.");
    } else if (streq(member, "ChangePin")) {
        r = sd_bus_message_read_basic(m, 's', &s);
        if (r >= 0 && !streq(s, "user") && !streq(s, "so"))
            return tk_error_set(e, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                                "Say whose PIN to change: \"user\" or \"so\".");
        variant = r >= 0 ? s : NULL;
    } else if (streq(member, "Initialize")) {
        r = sd_bus_message_read_basic(m, 's', &s);
        if (r >= 0 && (strlen(s) > 32 || tk_text_check(s, 1, 32) < 0))
            return tk_error_set(e, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                                "Give a token label of 1 to 32 bytes of printable text.");
    } else if (streq(member, "DeleteObject")) {
        r = sd_bus_message_read_basic(m, 's', &s);
        if (r >= 0 && !streq(s, "key") && !streq(s, "certificate"))
            return tk_error_set(e, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                                "Say what to delete: \"key\" or \"certificate\".");
        if (r >= 0)
            r = sd_bus_message_read_array(m, 'y', &p, &n);
        if (r >= 0 && (n == 0 || n > 64))
            return tk_error_set(e, -EINVAL, TK_ERROR_INVALID_ARGUMENT,
                                "Give the id of the object to delete (1 to 64 bytes).");
    } else
        r = 0;
    if (r < 0)
        return tk_error_set(e, r, TK_ERROR_INVALID_ARGUMENT, "Malformed arguments: %s",
                            strerror(-r));

    const Operation *op = operation_find(member, variant);
    if (!op)
        return tk_error_set(e, -EOPNOTSUPP, TK_ERROR_UNSUPPORTED,
                            "%.64s is not a method tokend offers.", member);
    *ret = op;
    return 0;
}
