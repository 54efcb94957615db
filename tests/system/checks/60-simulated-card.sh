#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A simulated MyEID card (tokend-sim) in the system's pcscd, through the vpcd reader that
# vsmartcard-vpcd configures: personalised with OpenSC's pkcs15-init while tokend is stopped,
# its token is in "tokenctl list" once tokend is activated again. The card stays in its reader
# for the later checks, and tokend's status line follows the tokens.
set -euo pipefail
. "$TOKEND_TEST_SUITE/lib.sh"

card_unit=tokend-test-card
state_dir=/var/lib/tokend-test-card
serial=5e1f00000000000000c1

vpcd_listens() {
    awk -v port="$(printf ':%04X' "$VPCD_PORT")" 'substr($2, length($2) - 4) == port && $4 == "0A" { found = 1 }
        END { exit !found }' /proc/net/tcp /proc/net/tcp6
}
card_present() {
    opensc-tool --list-readers | grep -F "$VPCD_READER" | grep -q Yes
}

systemctl start pcscd.service
wait_until 10 vpcd_listens || fail "vpcd does not listen on port $VPCD_PORT:
$(cat /etc/reader.conf.d/vpcd; journalctl -b -u pcscd.service --no-pager | tail -n 20)"
mkdir -p "$state_dir"
start_card() {
    systemd-run --unit="$card_unit" --service-type=exec \
        /usr/local/bin/tokend-sim --port "$VPCD_PORT" --state "$state_dir/card.state" --serial "$serial"
}
start_card
wait_until 20 card_present || fail "no card in $VPCD_READER:
$(opensc-tool --list-readers 2>&1; journalctl -b -u "$card_unit" --no-pager | tail -n 20)"

# pkcs15-init and a running tokend would both bind the blank card: personalise it alone.
systemctl stop tokend.service
export TOKEND_TEST_PIN=$CARD_PIN TOKEND_TEST_PUK=$CARD_PUK TOKEND_TEST_SO_PIN=87654321 \
    TOKEND_TEST_SO_PUK=11223344
pkcs15-init --reader "$VPCD_READER" --create-pkcs15 --so-pin env:TOKEND_TEST_SO_PIN \
    --so-puk env:TOKEND_TEST_SO_PUK --label "$CARD_LABEL"
pkcs15-init --reader "$VPCD_READER" --store-pin --id 01 --pin env:TOKEND_TEST_PIN \
    --puk env:TOKEND_TEST_PUK --so-pin env:TOKEND_TEST_SO_PIN --label "User PIN"
pkcs15-init --reader "$VPCD_READER" --finalize

if ! wait_until 20 tokenctl_lists "$CARD_LABEL"; then
    tokenctl --no-ask-password list 2>&1 || true
    journalctl -b -u tokend.service --no-pager | tail -n 20
    # SIGSYS: the seccomp filter of the unit (SystemCallFilter=) refused a system call.
    if journalctl -b -u tokend.service -o cat | grep -q '(signal 31)'; then
        echo "tokend's workers were killed by SIGSYS: a system call outside tokend.service's SystemCallFilter="
    fi
    fail "tokenctl list does not show the card"
fi
out=$(tokenctl --no-ask-password list)
echo "$out"
grep -F "$CARD_LABEL" <<<"$out" | grep -qF "$VPCD_READER" || fail "the card's token is not in $VPCD_READER"

# tokend's status line (STATUS=, every 5 s) follows the tokens: one fewer with the card out of
# its reader, one more again with it back, each within two updates.
tokens_now() {
    # Tokens have a serial in the JSON list, readers none.
    tokenctl --no-ask-password --json=short list | grep -o '"serial":' | wc -l
}
status_says() {
    [ "$(unit_property tokend.service StatusText)" = "Managing $1 token(s)." ]
}
n=$(tokens_now)
wait_until 12 status_says "$n" || fail "StatusText is \"$(unit_property tokend.service StatusText)\", not $n tokens"
systemctl stop "$card_unit"
wait_until 12 status_says "$((n - 1))" ||
    fail "with the card out, StatusText still says \"$(unit_property tokend.service StatusText)\""
start_card
wait_until 20 tokenctl_lists "$CARD_LABEL" || fail "the card did not come back"
wait_until 12 status_says "$n" ||
    fail "with the card back, StatusText says \"$(unit_property tokend.service StatusText)\""
