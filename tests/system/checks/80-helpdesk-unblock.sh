#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The counter: a member of tokend-helpdesk, with the shipped example rules, unblocks the
# simulated card's locked user PIN with its PUK and the unlock application's reference through
# tokenctl; the new PIN works, and the journal has the unblock with the reference.
set -euo pipefail
. "$TOKEND_TEST_SUITE/lib.sh"

unblock_id=4e5da7636a214470b985c28241570f8f
member tkt-help tokend-helpdesk
use_example_rules

wrong=$(pin_file 000000)
puk=$(pin_file "$CARD_PUK" tkt-help)
new=$(pin_file 482915 tkt-help)
trap 'rm -f "$wrong" "$puk" "$new"' EXIT

# Lock the user PIN: wrong PINs until the card says it is locked (the last with --force).
for _ in 1 2 3 4 5; do
    tokenctl --no-ask-password --json status "$(card_token)" | grep -q '"state": *"locked"' && break
    tokenctl --no-ask-password --pin-file "$wrong" --new-pin-file "$new" change-pin \
        "$(card_token)" --force >/dev/null 2>&1 || true
done
tokenctl --no-ask-password --json status "$(card_token)" | grep -q '"state": *"locked"' ||
    fail "the card's user PIN did not lock: $(tokenctl --no-ask-password status "$(card_token)" 2>&1)"

as_user tkt-help tokenctl --no-ask-password --so-pin-file "$puk" --new-pin-file "$new" \
    unblock "$(card_token)" --request ULA-SYSTEM-1 || fail "the helpdesk member's unblock failed"
check=$(pin_file 482915)
trap 'rm -f "$wrong" "$puk" "$new" "$check"' EXIT
tokenctl --no-ask-password --pin-file "$check" objects "$(card_token)" --login >/dev/null ||
    fail "the new PIN does not work after the unblock"
record=$(journalctl -b -o verbose MESSAGE_ID=$unblock_id _SYSTEMD_UNIT=tokend.service)
grep -q '^    TOKEND_REQUEST=ULA-SYSTEM-1$' <<<"$record" ||
    fail "no journal record of the unblock with its reference:
$record"
grep -q "^    TOKEND_CALLER_UID=$(id -u tkt-help)\$" <<<"$record" ||
    fail "the unblock's journal record does not name the helpdesk member"
echo "unblocked by $(id -u tkt-help) with ULA-SYSTEM-1"
