#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# logind decides who sits at the kiosk: presenting the card's PIN (org.tokend.login, allowed
# for the active local session only) works for a kiosk account inside a logind session, as a
# kiosk's login makes one, and is refused for the same account outside any session, before the
# card is asked. Uses the card and the PIN that 80-helpdesk-unblock.sh left.
set -euo pipefail
. "$TOKEND_TEST_SUITE/lib.sh"

member tkt-kiosk tokend-kiosk
pin=$(pin_file 482915 tkt-kiosk)
trap 'rm -f "$pin"' EXIT
list=(tokenctl --no-ask-password --pin-file "$pin" objects "$(card_token)" --login)

rc=0
as_user tkt-kiosk "${list[@]}" || rc=$?
[ "$rc" = 3 ] || fail "outside a session the kiosk account got exit $rc, not 3 (not authorised)"

# A session of logind's on the seat, opened through PAM as a kiosk's login makes one (there is
# no VT in the machine to log in on).
session_info='echo "session ${XDG_SESSION_ID:-none}"
loginctl show-session "$XDG_SESSION_ID" -p Seat -p Active -p Remote'
out=$(systemd-run --quiet --wait --pipe --collect -p PAMName=login -p User=tkt-kiosk \
    -E XDG_SEAT=seat0 sh -c "$session_info"'; exec "$@"' sh "${list[@]}" 2>&1) ||
    fail "inside a logind session on seat0 the kiosk account was refused:
$out"
echo "$out"
for want in '^session [0-9]' '^Seat=seat0$' '^Active=yes$' '^Remote=no$'; do
    grep -q "$want" <<<"$out" || fail "the session is not what it should be ($want)"
done
