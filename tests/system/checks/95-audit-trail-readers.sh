#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The audit trail as staff read it: /var/log/tokend is tokend's and tokend-audit's (tmpfiles.d),
# the trail tokend wrote there under its unit (PrivateUsers=yes) is mode 0640 and that group's,
# a member of tokend-audit verifies and lists it without root and sees the helpdesk member's
# unblock of 80-helpdesk-unblock.sh by name, and a user outside the group is told it may not.
set -euo pipefail
. "$TOKEND_TEST_SUITE/lib.sh"

getent group tokend-audit >/dev/null || fail "sysusers.d made no group tokend-audit"
[ "$(stat -c '%a %U %G' /var/log/tokend)" = "2750 tokend tokend-audit" ] ||
    fail "/var/log/tokend is $(stat -c '%a %U %G' /var/log/tokend)"
[ "$(stat -c '%a %U %G' /var/log/tokend/audit.jsonl)" = "640 tokend tokend-audit" ] ||
    fail "the trail is $(stat -c '%a %U %G' /var/log/tokend/audit.jsonl)"

member tkt-audit tokend-audit
member tkt-plain
out=$(as_user tkt-audit tokenctl audit verify) || fail "verify as a member of tokend-audit: $out"
echo "$out"
out=$(as_user tkt-audit tokenctl audit list --operation unblock-pin --since today) ||
    fail "list as a member of tokend-audit: $out"
echo "$out"
grep -E "tkt-help \($(id -u tkt-help)\) +unblock-pin .* ULA-SYSTEM-1 +ok$" <<<"$out" >/dev/null ||
    fail "the helpdesk member's unblock is not listed"
if out=$(as_user tkt-plain tokenctl audit verify 2>&1); then
    fail "a user outside tokend-audit read the trail: $out"
fi
grep -q "permission denied" <<<"$out" || fail "no permission denied: $out"
echo "$out"
