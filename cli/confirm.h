/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Confirmation of acts that destroy what is on a token (init, delete). */
#pragma once

#include "tokenctl.h"

/* 0 with --yes, or when the person at the terminal answers question with expected (NULL: "y"
 * or "yes"). Without --yes and without a terminal to ask on (or with --no-ask-password) fails
 * as a usage error naming --yes; any other answer fails as NotConfirmed (exit 1). */
int confirm_destroy(Context *ctx, const char *question, const char *expected);
