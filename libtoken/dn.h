/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <openssl/x509.h>

#include "token-error.h"

/* Parses an RFC 4514 distinguished name ("CN=Jane Doe,O=Example,C=DE") into an X509_NAME.
 * Attribute types are short names (case-insensitive: CN, O, OU, C, L, ST, STREET, DC, UID,
 * SERIALNUMBER, emailAddress, ...) or dotted OIDs; values are stored as UTF-8 (country as a
 * PrintableString, as X.520 requires). The last RDN of the string is the first of the name.
 * '+' joins attributes into one multi-valued RDN. Values in the '#' hex form are refused.
 * Errors (-EINVAL, TK_ERROR_INVALID_ARGUMENT) name the offending part. */
int tk_dn_parse(const char *rfc4514, X509_NAME **ret, TkError *error);

/* The RFC 4514 form of a name, with UTF-8 left readable; free() the result. NULL on error.
 * The result is valid UTF-8 whatever the certificate holds: a byte of a UTF8String that is not
 * UTF-8 is a hex pair ("CN=Jo\E3o"), and a name with a BMPString or UniversalString that has no
 * UTF-8 form comes with every value as #hex of its encoding. */
char *tk_dn_format(const X509_NAME *n);
