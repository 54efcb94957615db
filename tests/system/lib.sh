#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Sourced by the checks in checks/: what several of them use. Each check is a bash script run
# as root inside the booted machine; it prints what a reader of a failure needs, exits 0 when
# the check holds, 77 when it cannot be made here (say why on the last line), anything else
# when it fails. Checks run in name order in one machine, so a later check may rely on what an
# earlier one set up (the SoftHSM2 token, tokend started), and says so.
set -euo pipefail

SOFTHSM_LABEL="system-test"
SOFTHSM_PIN="318274"
SOFTHSM_SO_PIN="so-pin-5512"
# The port that vsmartcard-vpcd's /etc/reader.conf.d/vpcd gives its first reader (0x8C7B).
VPCD_PORT=35963
VPCD_READER="Virtual PCD 00 00"

fail() {
    echo "FAIL: $*"
    exit 1
}

# wait_until SECONDS COMMAND...: runs COMMAND every 0.2 s until it succeeds; fails after
# SECONDS.
wait_until() {
    local end=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        if [ "$SECONDS" -ge "$end" ]; then
            return 1
        fi
        sleep 0.2
    done
}

unit_property() {
    systemctl show -p "$2" --value "$1"
}

# The processes of tokend (the daemon and its workers): PID, UID, user and name, one a line.
tokend_processes() {
    ps -eo pid=,uid=,user=,comm= | awk '$4 == "tokend" || $4 == "tokend-worker"'
}

# tokenctl_lists TEXT: "tokenctl list" succeeds and shows TEXT.
tokenctl_lists() {
    local out
    out=$(tokenctl --no-ask-password list 2>&1) && grep -qF -- "$1" <<<"$out"
}

# pin_file PIN [USER]: a file of root's (or USER's) holding PIN, for tokenctl's --pin-file
# options (never its command line).
pin_file() {
    local f
    f=$(mktemp /run/tokend-test-pin.XXXXXX)
    printf '%s\n' "$1" >"$f"
    [ -z "${2:-}" ] || chown "$2" "$f"
    echo "$f"
}

# The simulated card of 60-simulated-card.sh, left in its reader for the later checks.
CARD_LABEL="system test card"
CARD_PIN=123456
CARD_PUK=12345678

# card_token: the card's token name for tokenctl (its reader).
card_token() {
    echo "$VPCD_READER"
}

# use_example_rules: the shipped example role rules, made active as a site does, and polkitd
# restarted to read them.
use_example_rules() {
    install -D -m 0644 /usr/share/doc/tokend/50-tokend-roles.rules.example \
        /etc/polkit-1/rules.d/50-tokend-roles.rules
    systemctl restart polkit.service
}

# member USER GROUP...: a system user of its own in those groups (made if missing), for the
# checks of a role (tokend-provisioning, tokend-helpdesk, tokend-kiosk).
member() {
    local user=$1 group
    shift
    for group in "$@"; do
        getent group "$group" >/dev/null || groupadd --system "$group"
    done
    getent passwd "$user" >/dev/null ||
        useradd --system --no-create-home --shell /usr/sbin/nologin --groups "$(IFS=,; echo "$*")" "$user"
}

# as_user USER COMMAND...: runs COMMAND as USER with its groups, no root capability kept.
as_user() {
    local user=$1
    shift
    setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups --inh-caps=-all -- "$@"
}
