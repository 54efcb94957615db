#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A key pair generated through tokenctl on a SoftHSM2 token (made here with softhsm2-util) is
# recorded in the journal by tokend.service with generate-key's MESSAGE_ID (tokend(8), "AUDIT
# TRAIL") and the TOKEND_* fields. Leaves the token for the later checks.
set -euo pipefail
. "$TOKEND_TEST_SUITE/lib.sh"

generate_key_id=bfee0245518d4924bb4e698c7312cd2b

# Made by the store's account, as the workers that use it run (softhsm2-store.conf).
runuser -u tokend-softhsm -g softhsm -- softhsm2-util --init-token --free \
    --label "$SOFTHSM_LABEL" --pin "$SOFTHSM_PIN" --so-pin "$SOFTHSM_SO_PIN"
serial=$(softhsm2-util --show-slots |
    awk -v label="$SOFTHSM_LABEL" '/Serial number:/ { s = $3 } /Label:/ && $2 == label { print s; exit }')
[ -n "$serial" ] || fail "softhsm2-util shows no serial for $SOFTHSM_LABEL"
wait_until 20 tokenctl_lists "$serial" || fail "tokenctl list does not show the SoftHSM2 token $serial:
$(tokenctl --no-ask-password list 2>&1)"

pin=$(pin_file "$SOFTHSM_PIN")
trap 'rm -f "$pin"' EXIT
tokenctl --no-ask-password --pin-file "$pin" keygen "$serial" --type ec-p256 --label system-test ||
    fail "tokenctl keygen failed"

record() {
    journalctl -b -o verbose MESSAGE_ID=$generate_key_id TOKEND_TOKEN_SERIAL="$serial" \
        _SYSTEMD_UNIT=tokend.service
}
has_record() {
    record | grep -q TOKEND_RESULT
}
wait_until 10 has_record || fail "no journal record with MESSAGE_ID=$generate_key_id from tokend.service:
$(journalctl -b -u tokend.service --no-pager | tail -n 20)"
entry=$(record)
grep -E '^    (MESSAGE_ID|MESSAGE|PRIORITY|TOKEND_[A-Z_]+|_SYSTEMD_UNIT|_UID)=' <<<"$entry"
for field in TOKEND_OPERATION=generate-key TOKEND_RESULT=ok TOKEND_CALLER_UID=0 \
    TOKEND_TOKEN_SERIAL="$serial"; do
    grep -qxF "    $field" <<<"$entry" || fail "the record has no $field"
done
grep -q '^    TOKEND_CALLER_PID=[0-9]' <<<"$entry" || fail "the record has no TOKEND_CALLER_PID"
