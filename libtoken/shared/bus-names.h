/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The names of tokend's bus API, version 1 (docs/org.tokend.Tokend1.xml), for tokend and its
 * clients. libtoken itself has no D-Bus and does not include this. */
#define TOKEND_BUS_NAME      "org.tokend.Tokend1"
#define TOKEND_ROOT_PATH     "/org/tokend/Tokend1"
#define TOKEND_TOKEN_PREFIX  TOKEND_ROOT_PATH "/token"
#define TOKEND_READER_PREFIX TOKEND_ROOT_PATH "/reader"
#define TOKEND_MANAGER_IFACE "org.tokend.Tokend1.Manager"
#define TOKEND_TOKEN_IFACE   "org.tokend.Tokend1.Token"
#define TOKEND_READER_IFACE  "org.tokend.Tokend1.Reader"
/* Followed by a name of token-error.h: org.tokend.Tokend1.Error.PinIncorrect. */
#define TOKEND_ERROR_PREFIX "org.tokend.Tokend1.Error."
