#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Makes the Debian 12 root that the system suite boots with systemd as PID 1: a debootstrap
# minbase of bookworm with systemd, dbus, polkitd, pcscd, OpenSC, SoftHSM2, vpcd, PostgreSQL
# and tokend's run-time libraries. It is made once and cached outside the checkout, in
# TOKEND_TEST_ROOT (default /var/cache/tokend-test/bookworm-systemd); ROOT.stamp records what
# it was made with (the package list, the suites), and a different record makes it again. Runs
# never write to it: they boot an overlay on it. Safe to run concurrently and again: ROOT.lock
# is held shared while the root is checked or booted and exclusively while it is made, and a
# new root is made beside the old one and renamed into place when complete.
# Usage (root): tests/system/make-root.sh [--check]
#   --check   only say (exit status) whether the cached root is current; makes nothing.
# Prints the root's path when it is current. Needs debootstrap and systemd-nspawn
# (systemd-container). TOKEND_TEST_MIRROR and TOKEND_TEST_SECURITY_MIRROR override the mirrors
# (default: the host's).
set -euo pipefail

root=${TOKEND_TEST_ROOT:-/var/cache/tokend-test/bookworm-systemd}
root=${root%/}
lock=$root.lock
stamp=$root.stamp

packages=(
    # systemd as PID 1, the system bus, polkit, and logind sessions for polkit's subject.active
    systemd systemd-sysv dbus polkitd libpam-systemd
    # PC/SC, OpenSC, SoftHSM2 and the virtual reader the card simulator plugs into
    pcscd opensc opensc-pkcs11 softhsm2 vsmartcard-vpcd
    # what tokend, tokend-worker, tokenctl and tokend-sim load (ldd)
    libpcsclite1 libp11-3 libjson-c5 libinih1 libsystemd0 libssl3
    # libpq for the PostgreSQL store, where tokend is built with it, and a PostgreSQL server on
    # the machine's loopback for the check of a station reaching its office's database by TCP
    libpq5 postgresql
    # ps and pgrep for the checks
    procps
)
suites="bookworm bookworm-updates bookworm-security"

wanted_stamp() {
    printf 'suites: %s\n' "$suites"
    printf 'package: %s\n' "${packages[@]}" | LC_ALL=C sort
}

current() {
    [ -x "$root/usr/lib/systemd/systemd" ] && [ -f "$stamp" ] && cmp -s "$stamp" <(wanted_stamp)
}

if [ "${1:-}" = --check ]; then
    current
    exit
fi

if [ "$(id -u)" != 0 ]; then
    echo "make-root.sh: needs root (debootstrap, systemd-nspawn)" >&2
    exit 1
fi
for p in debootstrap systemd-nspawn; do
    if ! command -v "$p" >/dev/null; then
        echo "make-root.sh: $p is not installed (apt-get install debootstrap systemd-container)" >&2
        exit 1
    fi
done

mkdir -p "$(dirname "$root")"
exec {lockfd}>>"$lock"
# A root in use by a run is held shared: checking it takes no more than that.
flock -s "$lockfd"
if current; then
    echo "$root"
    exit 0
fi
flock -u "$lockfd"
flock -x "$lockfd"
if current; then
    echo "$root"
    exit 0
fi

host_uri() {
    # The host's own mirror for a suite, where it names one (deb822 or one-line sources).
    awk -v suite="$1" '
        /^URIs:/ { uri = $2 } /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) { print uri; exit } }
        /^deb / { for (i = 3; i <= NF; i++) if ($i == suite) { print $2; exit } }
    ' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | head -n 1
}
mirror=${TOKEND_TEST_MIRROR:-$(host_uri bookworm)}
mirror=${mirror:-http://deb.debian.org/debian}
security=${TOKEND_TEST_SECURITY_MIRROR:-$(host_uri bookworm-security)}
security=${security:-http://deb.debian.org/debian-security}

# Only builders hold the exclusive lock: what a crashed one left behind is nobody's.
rm -rf "$root".new.* "$root".old.*
new=$(mktemp -d "$root.new.XXXXXX")
log=$new.log
trap 'rm -rf "$new" "$log"' EXIT

start=$(date +%s)
echo "make-root.sh: making $root (debootstrap of bookworm from $mirror, log $log)" >&2
if ! debootstrap --variant=minbase bookworm "$new" "$mirror" >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    echo "make-root.sh: debootstrap failed" >&2
    exit 1
fi
rm -f "$new/etc/apt/sources.list"
cat >"$new/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF

# The host's network, for apt-get; no machine registered, no unit of the host's touched.
if ! systemd-nspawn -q --pipe -D "$new" --register=no --keep-unit --resolv-conf=copy-host \
    -E DEBIAN_FRONTEND=noninteractive -E LANG=C.UTF-8 \
    sh -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@" && apt-get clean' \
    sh "${packages[@]}" </dev/null >>"$log" 2>&1; then
    tail -n 20 "$log" >&2
    echo "make-root.sh: apt-get install failed" >&2
    exit 1
fi
rm -rf "$new"/var/lib/apt/lists/*
# Every boot makes a machine ID of its own (an empty file: not yet set up, as an image ships).
: >"$new/etc/machine-id"
rm -f "$new/var/lib/dbus/machine-id"

# The old stamp goes first: a builder that dies from here on leaves no root that looks current.
rm -f "$stamp"
if [ -e "$root" ]; then
    mv "$root" "$new.old"
    mv "$new" "$root"
    rm -rf "$new.old"
else
    mv "$new" "$root"
fi
wanted_stamp >"$stamp.tmp"
mv "$stamp.tmp" "$stamp"
rm -f "$log"
echo "make-root.sh: made $root in $(($(date +%s) - start)) s" >&2
echo "$root"
