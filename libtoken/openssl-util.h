/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <openssl/bio.h>

/* A NUL-terminated copy of what was written to a memory BIO. */
int tk_bio_to_string(BIO *bio, char **ret);
