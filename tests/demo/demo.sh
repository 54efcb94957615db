#!/bin/bash
# The quick-start demo: installs what is needed, builds tokend and runs tests/demo/demo.py:
# tokend on a private bus with a private SoftHSM2 token, provisioned and unblocked through
# tokenctl. Nothing system-wide is touched.
set -euo pipefail
cd "$(dirname "$0")/../.."

bash .ci/install-deps
builddir=${BUILDDIR:-build}
[ -d "$builddir" ] || meson setup "$builddir" >/dev/null
ninja -C "$builddir" >/dev/null

# As meson runs it (tests/meson.build): the shared harness on the module path, no bytecode
# left in the source tree.
PYTHONPATH=$PWD/tests/harness PYTHONDONTWRITEBYTECODE=1 \
    TOKEND_SOURCE_DIR=$PWD TOKEND_BUILD_DIR=$PWD/$builddir exec python3 tests/demo/demo.py
