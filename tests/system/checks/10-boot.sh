#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The machine runs systemd as PID 1 and its boot settles: "systemctl is-system-running" says
# running, or degraded (then the failed units are shown).
set -euo pipefail
. "$TOKEND_TEST_SUITE/lib.sh"

init=$(cat /proc/1/comm)
[ "$init" = systemd ] || fail "PID 1 is $init, not systemd"
state=$(timeout 90 systemctl is-system-running --wait) || true
echo "systemctl is-system-running: $state"
case $state in
running) ;;
degraded)
    echo "failed units:"
    systemctl list-units --failed --no-legend --plain
    ;;
*) fail "the boot did not settle (state ${state:-unknown})" ;;
esac
