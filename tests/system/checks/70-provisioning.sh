#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# An issuing station's account, a member of tokend-provisioning, with the shipped example
# rules active and no polkit agent: it generates key pairs on the SoftHSM2 token of
# 40-journal-keygen.sh and on the simulated card of 60-simulated-card.sh through tokenctl, with
# no password asked; an account without the role is refused (exit 3) and the tokens unchanged.
set -euo pipefail
. "$TOKEND_TEST_SUITE/lib.sh"

member tkt-prov tokend-provisioning
member tkt-plain
use_example_rules
softhsm=$(softhsm2-util --show-slots |
    awk -v label="$SOFTHSM_LABEL" '/Serial number:/ { s = $3 } /Label:/ && $2 == label { print s; exit }')
[ -n "$softhsm" ] || fail "no SoftHSM2 token $SOFTHSM_LABEL (made by 40-journal-keygen.sh)"

keys_on() {
    tokenctl --no-ask-password objects "$1"
}

prov_pin=$(pin_file "$SOFTHSM_PIN" tkt-prov)
card_pin=$(pin_file "$CARD_PIN" tkt-prov)
plain_pin=$(pin_file "$SOFTHSM_PIN" tkt-plain)
trap 'rm -f "$prov_pin" "$card_pin" "$plain_pin"' EXIT

as_user tkt-prov tokenctl --no-ask-password --pin-file "$prov_pin" keygen "$softhsm" \
    --type ec-p256 --label prov-softhsm || fail "the provisioning account's keygen on SoftHSM2 failed"
as_user tkt-prov tokenctl --no-ask-password --pin-file "$card_pin" keygen "$(card_token)" \
    --type ec-p256 --label prov-card || fail "the provisioning account's keygen on the card failed"
keys_on "$softhsm" | grep -qw prov-softhsm || fail "no prov-softhsm key on the SoftHSM2 token"
keys_on "$(card_token)" | grep -qw prov-card || fail "no prov-card key on the card"

before=$(keys_on "$softhsm")
rc=0
as_user tkt-plain tokenctl --no-ask-password --pin-file "$plain_pin" keygen "$softhsm" \
    --type ec-p256 --label plain-key || rc=$?
[ "$rc" = 3 ] || fail "an account without the role got exit $rc from keygen, not 3 (not authorised)"
[ "$(keys_on "$softhsm")" = "$before" ] || fail "the refused keygen changed the token"
keys_on "$softhsm"
keys_on "$(card_token)"
