#!/bin/bash
# Installs the dependencies, builds tokend with warnings as errors and runs the whole default
# test suite. Extra arguments go to "meson test" (e.g. --setup=valgrind, --suite unit).
set -euo pipefail
cd "$(dirname "$0")/.."

bash .ci/install-deps
builddir=${BUILDDIR:-build}
if [ ! -d "$builddir" ]; then
    meson setup "$builddir" -Dwerror=true
fi
ninja -C "$builddir"
meson test -C "$builddir" --print-errorlogs --num-processes 2 "$@"
