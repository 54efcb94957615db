/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "tokenctl.h"

/* tokenctl provision --import DIR [TOKEN...]: every certificate file in DIR stored, with the CA
 * certificates in the same file, on the token that holds its key, found by the public key. */
int provision_import(Context *ctx);
