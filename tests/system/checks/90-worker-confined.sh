#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A token worker, as its own user and in its own sandbox, cannot open the site key, the audit
# trail or the ledger: from inside a running worker's namespaces tokend's directories are not
# there, and the worker's user cannot read them in the host's view either.
set -euo pipefail
. "$TOKEND_TEST_SUITE/lib.sh"

# A site key, tokend's own, mode 0600 (tokend.conf(5)).
install -d -m 0755 /etc/tokend
head -c 32 /dev/urandom >/etc/tokend/site.key
chown tokend:tokend /etc/tokend/site.key
chmod 0600 /etc/tokend/site.key
[ -s /var/log/tokend/audit.jsonl ] || fail "no audit trail yet (the earlier checks write one)"

worker=$(pgrep -x tokend-worker | head -n 1)
[ -n "$worker" ] || fail "no tokend-worker runs"
uid=$(ps -o uid= -p "$worker" | tr -d ' ')
[ "$uid" != 0 ] || fail "the worker runs as root"
echo "worker $worker runs as uid $uid ($(ps -o user= -p "$worker"))"
for f in /etc/tokend/site.key /var/log/tokend/audit.jsonl /var/lib/tokend/retry-ledger.json; do
    [ -s "$f" ] || continue
    # In the worker's own mount namespace (InaccessiblePaths=) not even root sees the file.
    if nsenter -t "$worker" -m cat "$f" 2>/dev/null | cmp -s - "$f"; then
        fail "$f is there in the worker's sandbox"
    fi
    # And the worker's user cannot read it with the host's view of the files.
    if setpriv --reuid="$uid" --regid="$(ps -o gid= -p "$worker" | tr -d ' ')" --clear-groups \
        cat "$f" >/dev/null 2>&1; then
        fail "the worker's user read $f"
    fi
    echo "$f: out of the worker's reach"
done
