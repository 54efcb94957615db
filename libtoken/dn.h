/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <openssl/x509.h>

#include "token-error.h"

/* Parses an RFC 4514 distinguished name ("CN=Jane Doe,O=Agency,C=NL") into an X509_NAME. */
int tk_dn_parse(const char *rfc4514, X509_NAME **ret, TkError *error);

/* The RFC 4514 form of a name, with UTF-8 kept readable; NULL on allocation failure. */
char *tk_dn_format(const X509_NAME *n);
