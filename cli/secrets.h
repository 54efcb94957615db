/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "secret.h"
#include "tokenctl.h"

typedef enum SecretAsk {
    SECRET_REQUIRED, /* fail when neither a file nor a terminal gives it */
    SECRET_OPTIONAL, /* NULL when no file and no terminal; an empty answer also gives NULL */
} SecretAsk;

/* Gets one secret for a verb: from file when the option was given, else from the terminal
 * (asked twice when is_new), unless --no-ask-password. Fails through fail() with a message
 * naming the option to use. */
int get_secret(Context *ctx, const char *file, const char *option, const char *prompt, bool is_new,
               SecretAsk ask, TkSecret **ret);
