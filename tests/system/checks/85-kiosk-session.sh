#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# logind decides who sits at the kiosk: presenting the card's PIN (org.tokend.login, allowed
# for the active local session only) works for a kiosk account inside a logind session, as a
# kiosk's login makes one, and is refused for the same account outside any session, before the
# card is asked. With the shipped example rules the kiosk account changes the user PIN in that
# session with no password, and nowhere else; the SO PIN, an unblock and an initialisation stay
# refused in the session too. Uses the card, the rules and the PIN that 80-helpdesk-unblock.sh
# left, and leaves that PIN.
set -euo pipefail
. "$TOKEND_TEST_SUITE/lib.sh"

member tkt-kiosk tokend-kiosk
pin=$(pin_file 482915 tkt-kiosk)
next=$(pin_file 593027 tkt-kiosk)
puk=$(pin_file "$CARD_PUK" tkt-kiosk)
trap 'rm -f "$pin" "$next" "$puk"' EXIT
list=(tokenctl --no-ask-password --pin-file "$pin" objects "$(card_token)" --login)

rc=0
as_user tkt-kiosk "${list[@]}" || rc=$?
[ "$rc" = 3 ] || fail "outside a session the kiosk account got exit $rc, not 3 (not authorised)"

# in_session COMMAND...: COMMAND as tkt-kiosk in a session of logind's on the seat, opened
# through PAM as a kiosk's login makes one (there is no VT in the machine to log in on).
in_session() {
    systemd-run --quiet --wait --pipe --collect -p PAMName=login -p User=tkt-kiosk \
        -E XDG_SEAT=seat0 "$@"
}

change=(tokenctl --no-ask-password --pin-file "$pin" --new-pin-file "$next" change-pin
    "$(card_token)")
rc=0
as_user tkt-kiosk "${change[@]}" 2>/dev/null || rc=$?
[ "$rc" = 3 ] || fail "outside a session the kiosk account's PIN change got exit $rc, not 3"

session_info='echo "session ${XDG_SESSION_ID:-none}"
loginctl show-session "$XDG_SESSION_ID" -p Seat -p Active -p Remote'
out=$(in_session sh -c "$session_info"'; exec "$@"' sh "${list[@]}" 2>&1) ||
    fail "inside a logind session on seat0 the kiosk account was refused:
$out"
echo "$out"
for want in '^session [0-9]' '^Seat=seat0$' '^Active=yes$' '^Remote=no$'; do
    grep -q "$want" <<<"$out" || fail "the session is not what it should be ($want)"
done

# The user PIN, with no password, in the session; and back, for the checks after this one.
out=$(in_session "${change[@]}" 2>&1) ||
    fail "inside the session the kiosk account could not change the user PIN:
$out"
out=$(in_session tokenctl --no-ask-password --pin-file "$next" --new-pin-file "$pin" \
    change-pin "$(card_token)" 2>&1) || fail "changing the PIN back failed:
$out"

# Nothing else, in the session either: each refused as not authorised (exit 3).
refused() {
    local what=$1 rc=0
    shift
    out=$(in_session "$@" 2>&1) || rc=$?
    [ "$rc" = 3 ] || fail "inside the session the kiosk account's $what got exit $rc, not 3:
$out"
}
refused "SO PIN change" tokenctl --no-ask-password --so-pin-file "$puk" --new-pin-file "$next" \
    change-pin "$(card_token)" --so
refused "unblock" tokenctl --no-ask-password --so-pin-file "$puk" --new-pin-file "$next" \
    unblock "$(card_token)" --request ULA-KIOSK-1
refused "initialisation" tokenctl --no-ask-password --so-pin-file "$puk" --new-pin-file "$next" \
    init "$(card_token)" --label kiosk --yes
tokenctl --no-ask-password --pin-file "$pin" objects "$(card_token)" --login >/dev/null ||
    fail "after the kiosk's refused acts the card's PIN is not the one it was"
echo "kiosk: user PIN changed in the session only; SO PIN, unblock and init refused"
