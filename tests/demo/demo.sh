#!/bin/bash
# The quick-start demo: installs what is needed, builds tokend and runs a provisioning flow on
# a private SoftHSM2 token (initialise, key pair on the token, certificate request signed on the
# token, certificate from a demo CA imported with its chain, list). Nothing system-wide is
# touched: the token lives in a temp dir that is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."

bash .ci/install-deps
builddir=${BUILDDIR:-build}
[ -d "$builddir" ] || meson setup "$builddir" >/dev/null
ninja -C "$builddir" >/dev/null

work=$(mktemp -d /tmp/tokend-demo-XXXXXX)
trap 'rm -rf "$work"' EXIT
"$builddir/tests/demo/tokend-demo" "$work"
