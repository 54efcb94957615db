/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Subject DNs: tk_dn_parse() on the RFC 4514 text a caller gives CreateRequest, and
 * tk_dn_format() on the DER names that certificates from a token carry. The first byte picks
 * which; the rest is the text or the DER. */
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "dn.h"
#include "fuzz.h"
#include "text-escape.h"

static void name_freep(X509_NAME **n)
{
    X509_NAME_free(*n);
}

/* What tk_dn_format() promises for any name: valid UTF-8 when it gives anything. */
static char *format_checked(const X509_NAME *n)
{
    char *s = tk_dn_format(n);
    if (s)
        FUZZ_CHECK(tk_utf8_is_valid(s, strlen(s)));
    return s;
}

static void parse_text(const uint8_t *data, size_t size)
{
    _cleanup_free_ char *text = strndup((const char *)data, size);
    FUZZ_CHECK(text);
    _cleanup_(name_freep) X509_NAME *n = NULL;
    TkError e = {};
    if (tk_dn_parse(text, &n, &e) < 0) {
        FUZZ_CHECK(!n && e.name[0]);
        return;
    }
    FUZZ_CHECK(n);

    /* A name tokend parsed formats, and its formatted text names the same name: parsed again
     * and formatted, it comes back unchanged. The exception is an attribute type OpenSSL does
     * not know, whose value RFC 4514 has written as #hex of its BER, a form tokend refuses. */
    _cleanup_free_ char *once = format_checked(n);
    FUZZ_CHECK(once);
    _cleanup_(name_freep) X509_NAME *again = NULL;
    e = (TkError){};
    if (tk_dn_parse(once, &again, &e) < 0) {
        FUZZ_CHECK(strstr(once, "=#"));
        return;
    }
    _cleanup_free_ char *twice = format_checked(again);
    FUZZ_CHECK(twice && strcmp(once, twice) == 0);
}

static void format_der(const uint8_t *data, size_t size)
{
    const unsigned char *p = data;
    _cleanup_(name_freep) X509_NAME *n = d2i_X509_NAME(NULL, &p, (long)size);
    if (!n)
        return;
    _cleanup_free_ char *s = format_checked(n);
    if (s) {
        /* What a certificate's name formats to is text a person may paste into a request. */
        _cleanup_(name_freep) X509_NAME *parsed = NULL;
        (void)tk_dn_parse(s, &parsed, NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] & 1)
        format_der(data + 1, size - 1);
    else
        parse_text(data + 1, size - 1);
    ERR_clear_error();
    return 0;
}
