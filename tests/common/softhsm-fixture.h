/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "token.h"

#define SOFTHSM_MODULE "/usr/lib/softhsm/libsofthsm2.so"

/* A private SoftHSM2 token store in a temp dir (SOFTHSM2_CONF points at it) with one token,
 * initialised through libtoken itself. */
typedef struct SofthsmFixture {
    char *dir;
    TkModule *module;
    TkToken *token;
    char *serial;
} SofthsmFixture;

/* Returns 0; -ENOPKG when SoftHSM2 is not installed (a TAP program checks
 * softhsm_fixture_unavailable() first and skips); -1 on failure, said on standard error. */
int softhsm_fixture_setup(SofthsmFixture *f, const char *label, const char *so_pin,
                          const char *user_pin);
void softhsm_fixture_teardown(SofthsmFixture *f);

/* Runs pkcs11-tool against the fixture's module with the extra arguments; output in *ret. */
int softhsm_pkcs11_tool(SofthsmFixture *f, char **ret, ...);

/* Why SoftHSM2 tokens cannot be made here, or NULL when they can. */
const char *softhsm_fixture_unavailable(void);
