#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs inside the booted test machine, started by tokend-system-test.service: every check in
# checks/ in name order, as root, each within a time limit, with its output in
# RESULTS/NAME.log and its exit status in RESULTS/NAME.status (0 passed, 77 skipped, anything
# else failed); then the boot's journal into RESULTS/journal.txt. The unit powers the machine
# off when this ends.
set -euo pipefail

suite=$(dirname "$(readlink -f "$0")")
export TOKEND_TEST_SUITE=$suite
export TOKEND_TEST_RESULTS=${TOKEND_TEST_RESULTS:-/tokend-test/results}
limit=${TOKEND_TEST_CHECK_TIMEOUT:-120}

for check in "$suite"/checks/*.sh; do
    name=$(basename "$check" .sh)
    echo "check $name"
    rc=0
    timeout --kill-after=5 "$limit" bash "$check" >"$TOKEND_TEST_RESULTS/$name.log" 2>&1 \
        </dev/null || rc=$?
    if [ "$rc" = 124 ]; then
        echo "ran over its time limit of $limit s" >>"$TOKEND_TEST_RESULTS/$name.log"
    fi
    echo "$rc" >"$TOKEND_TEST_RESULTS/$name.status"
    echo "check $name: exit status $rc"
done
journalctl -b --no-pager -o short-monotonic >"$TOKEND_TEST_RESULTS/journal.txt" 2>&1 || true
