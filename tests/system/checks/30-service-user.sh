#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tokend.service runs as its own system user, tokend (DESIGN.md, "Process model").
set -euo pipefail
. "$TOKEND_TEST_SUITE/lib.sh"

user=$(unit_property tokend.service User)
[ "$user" = tokend ] || fail "tokend.service runs as ${user:-root (the unit sets no User=)}, not tokend"
getent passwd tokend || fail "the unit names the user tokend, which does not exist"
