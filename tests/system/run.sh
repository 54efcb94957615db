#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The system suite: tokend installed into a Debian 12 root and booted with systemd as PID 1,
# checked there as a site runs it. Prints TAP, one test per check in tests/system/checks/.
#
# The root is cached (make-root.sh) and never written to: each run boots an overlay on it,
# in a temp dir and a mount namespace of its own. Into the overlay go "meson install" of a
# build configured with --prefix=/usr (BUILD/tests/system/usr-build, from the same source
# tree), the card simulator, the site's tokend.conf, a drop-in giving tokend's units SoftHSM2's
# token store (softhsm2-store.conf and its account) and tokend-system-test.service; the installed sysusers.d and
# tmpfiles.d files are applied inside. systemd-nspawn boots it with a
# private network and RUN/io bound on /tokend-test, where the unit runs the checks
# (run-checks.sh) and leaves one result per check, then powers the machine off. A machine
# that runs over TOKEND_SYSTEM_TIMEOUT seconds (default 300) is stopped by its PID.
# TOKEND_TEST_KEEP=1 keeps the run's directory (results, journal, the overlay's upper layer).
# Usage (root): TOKEND_SOURCE_DIR=SRC TOKEND_BUILD_DIR=BUILD tests/system/run.sh
# (meson test -C BUILD --suite system sets both).
set -euo pipefail

here=$(dirname "$(readlink -f "$0")")
source_dir=${TOKEND_SOURCE_DIR:-$(dirname "$(dirname "$here")")}
build_dir=${TOKEND_BUILD_DIR:-$source_dir/build}
limit=${TOKEND_SYSTEM_TIMEOUT:-300}
sim=$build_dir/tests/sim/tokend-sim

skip() {
    echo "1..0 # SKIP $*"
    exit 0
}
bail() {
    echo "Bail out! $*"
    exit 1
}
comment() {
    sed 's/^/# /'
}

[ "$(id -u)" = 0 ] || skip "needs root (systemd-nspawn, overlayfs)"
for p in systemd-nspawn debootstrap unshare flock meson ninja; do
    command -v "$p" >/dev/null || skip "$p is not installed (apt-get install systemd-container debootstrap)"
done
[ -x "$sim" ] || skip "the card simulator is not built ($sim)"

# The overlay and every mount nspawn makes live in a mount namespace of this run's: whatever
# becomes of the run, nothing stays mounted on the host.
if [ "${TOKEND_SYSTEM_MOUNT_NS:-}" != "$$" ]; then
    exec unshare --mount --propagation private env TOKEND_SYSTEM_MOUNT_NS=$$ bash "$0" "$@"
fi

checks=()
for c in "$here"/checks/*.sh; do
    checks+=("$(basename "$c" .sh)")
done

root=$("$here/make-root.sh") || bail "the cached root could not be made"
# Held shared until the run ends, so that no rebuild of the root happens under the overlay.
exec {rootlock}>>"$root.lock"
flock -s "$rootlock"
"$here/make-root.sh" --check || bail "the cached root $root changed while this run started"

# nspawn keeps its state under /run/systemd/nspawn: in this namespace, in memory, with the run.
mount -t tmpfs -o mode=0755 tmpfs /run

usr_build=$build_dir/tests/system/usr-build
mkdir -p "$(dirname "$usr_build")"
exec {buildlock}>>"$usr_build.lock"
flock -x "$buildlock"
if [ ! -f "$usr_build/build.ninja" ]; then
    # As strict about warnings as the build the suite runs from; no tests, nothing else changed.
    werror=$(meson introspect "$build_dir" --buildoptions |
        python3 -c 'import json, sys; print(*[str(o["value"]).lower() for o in json.load(sys.stdin) if o["name"] == "werror"])')
    meson setup --prefix=/usr -Dtests=false -Dwerror="$werror" "$usr_build" "$source_dir" 2>&1 |
        comment || bail "meson setup of $usr_build failed"
fi
ninja -C "$usr_build" >"$usr_build.log" 2>&1 || {
    comment <"$usr_build.log"
    bail "the --prefix=/usr build failed"
}

run=$(mktemp -d "${TMPDIR:-/tmp}/tokend-system.XXXXXX")
case $run in
*[,:[:space:]]*) rm -rf "$run"; bail "overlayfs cannot take the path $run (TMPDIR)" ;;
esac
nspawn=
cleanup() {
    if [ -n "$nspawn" ] && kill -0 "$nspawn" 2>/dev/null; then
        stop_machine
    fi
    umount "$run/root" 2>/dev/null || true
    if [ -n "${TOKEND_TEST_KEEP:-}" ]; then
        echo "# kept $run"
    else
        rm -rf --one-file-system "$run"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# SIGTERM makes systemd-nspawn power the machine off; if that hangs, SIGKILL to the machine's
# init (nspawn's child) ends its whole PID namespace, and nspawn then ends too.
stop_machine() {
    local i child
    kill -TERM "$nspawn" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$nspawn" 2>/dev/null || break
        sleep 0.2
    done
    if kill -0 "$nspawn" 2>/dev/null; then
        for child in $(cat /proc/"$nspawn"/task/*/children 2>/dev/null); do
            kill -KILL "$child" 2>/dev/null || true
        done
        sleep 1
        kill -KILL "$nspawn" 2>/dev/null || true
    fi
    wait "$nspawn" 2>/dev/null || true
}

mkdir -p "$run/upper" "$run/work" "$run/root" "$run/io/suite/checks" "$run/io/results"
mount -t overlay overlay -o "lowerdir=$root,upperdir=$run/upper,workdir=$run/work" "$run/root"
R=$run/root

meson install -C "$usr_build" --no-rebuild --quiet --destdir "$R" >"$run/install.log" 2>&1 || {
    comment <"$run/install.log"
    bail "meson install failed"
}
install -D -m 0755 "$sim" "$R/usr/local/bin/tokend-sim"
install -D -m 0644 "$here/tokend.conf" "$R/etc/tokend/tokend.conf"
install -D -m 0644 "$here/softhsm2-store.conf" \
    "$R/etc/systemd/system/tokend-worker@.service.d/50-softhsm2-store.conf"
install -D -m 0644 "$here/softhsm2-store.sysusers" "$R/etc/sysusers.d/tokend-softhsm.conf"
install -D -m 0644 "$here/tokend-system-test.service" "$R/etc/systemd/system/tokend-system-test.service"
mkdir -p "$R/etc/systemd/system/multi-user.target.wants"
ln -s ../tokend-system-test.service "$R/etc/systemd/system/multi-user.target.wants/"
install -m 0755 "$here/run-checks.sh" "$here/lib.sh" "$run/io/suite/"
install -m 0755 "$here"/checks/*.sh "$run/io/suite/checks/"

# What "meson install" put into sysusers.d and tmpfiles.d, applied as a package's scripts do.
mapfile -t installed < <(meson introspect "$usr_build" --installed |
    python3 -c 'import json, sys; print("\n".join(json.load(sys.stdin).values()))')
sysusers=() tmpfiles=()
for f in "${installed[@]}"; do
    case $f in
    */sysusers.d/*.conf) sysusers+=("$f") ;;
    */tmpfiles.d/*.conf) tmpfiles+=("$f") ;;
    esac
done
setup=
sysusers+=(/etc/sysusers.d/tokend-softhsm.conf)
setup+="systemd-sysusers ${sysusers[*]} && "
[ ${#tmpfiles[@]} = 0 ] || setup+="systemd-tmpfiles --create ${tmpfiles[*]} && "
if [ -n "$setup" ]; then
    systemd-nspawn -q --pipe -D "$R" --register=no --keep-unit --private-network \
        sh -c "${setup}true" </dev/null >"$run/setup.log" 2>&1 || {
        comment <"$run/setup.log"
        bail "systemd-sysusers or systemd-tmpfiles failed in the root"
    }
fi

start=$(date +%s)
# A session of its own: a signal to this script's process group (meson's on its timeout) comes
# to the machine as this script's orderly stop, never as a SIGKILL that would orphan its init.
setsid systemd-nspawn -q -b -D "$R" --register=no --keep-unit --private-network \
    --machine="tokend-test-${run##*.}" --bind="$run/io:/tokend-test" --console=read-only \
    </dev/null >"$run/io/console.log" 2>&1 &
nspawn=$!
overran=
while kill -0 "$nspawn" 2>/dev/null; do
    if [ $(($(date +%s) - start)) -ge "$limit" ]; then
        overran=1
        stop_machine
        break
    fi
    sleep 0.2
done
wait "$nspawn" 2>/dev/null || true
nspawn=
elapsed=$(($(date +%s) - start))

echo "1..${#checks[@]}"
failed=0
missing=
i=0
for name in "${checks[@]}"; do
    i=$((i + 1))
    log=$run/io/results/$name.log
    if [ ! -f "$run/io/results/$name.status" ]; then
        echo "not ok $i - $name # no result: the machine ended first"
        failed=1
        missing=1
        continue
    fi
    rc=$(cat "$run/io/results/$name.status")
    case $rc in
    0) echo "ok $i - $name" ;;
    77) echo "ok $i - $name # SKIP $(tail -n 1 "$log")" ;;
    *)
        echo "not ok $i - $name"
        failed=1
        ;;
    esac
    comment <"$log"
done
echo "# the machine ran for $elapsed s"
if [ -n "$overran" ]; then
    echo "# it ran over $limit s and was stopped"
fi
if [ -n "$overran" ] || [ -n "$missing" ]; then
    echo "# the end of the machine's console:"
    tail -n 30 "$run/io/console.log" | sed 's/\x1b\[[0-9;]*m//g' | comment
fi
exit "$failed"
