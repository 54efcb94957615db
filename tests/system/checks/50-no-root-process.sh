#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# No process of tokend runs as root (DESIGN.md, "Process model"): neither the daemon nor its
# workers. Runs after the SoftHSM2 token's check, so that there are workers to look at.
set -euo pipefail
. "$TOKEND_TEST_SUITE/lib.sh"

procs=$(tokend_processes)
echo "PID UID USER COMMAND"
echo "$procs"
awk '$4 == "tokend"' <<<"$procs" | grep -q . || fail "no tokend process runs"
root=$(awk '$2 == 0' <<<"$procs")
[ -z "$root" ] || fail "these run as root:
$root"
