#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tokend does not run before its first client: "tokenctl list" starts it by D-Bus activation
# (dbus-daemon asks systemd for tokend.service), and succeeds.
set -euo pipefail
. "$TOKEND_TEST_SUITE/lib.sh"

state=$(unit_property tokend.service ActiveState)
[ "$state" = inactive ] || fail "tokend.service is $state before any client"
if pgrep -x tokend; then
    fail "a tokend process runs before any client"
fi
out=$(tokenctl --no-ask-password list 2>&1) || fail "tokenctl list failed: $out"
echo "$out"
wait_until 10 test "$(unit_property tokend.service ActiveState)" = active ||
    fail "tokend.service is $(unit_property tokend.service ActiveState) after tokenctl list"
journalctl -b -u dbus.service -o cat | grep -F "Activating via systemd: service name='org.tokend.Tokend1'" ||
    fail "dbus-daemon did not activate org.tokend.Tokend1 through systemd"
