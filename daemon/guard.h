/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "operations.h"
#include "token.h"

/* The final-try rule: no call spends the last try of a PIN or the SO PIN/PUK unless the caller
 * says force, and a call that only reads never does. A locked secret is not tried at all.
 * tokend checks it after polkit and again when the call leaves the queue; the worker checks it
 * with the token's own counters before it presents the secret. Returns 0, or -EDQUOT
 * (PinFinalTry), -EDEADLK (SoPinFinalTry) or -EPERM (PinLocked) with error set. */
int guard_check(const Operation *op, const TkTokenInfo *info, bool force, bool puk, TkError *error);
