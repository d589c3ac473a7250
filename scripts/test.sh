#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole default test suite.
#
#   scripts/test.sh                 the default suite (unit, service, e2e, short fault runs)
#   scripts/test.sh -L fault        only one label; any ctest arguments pass through
#   LONG=1 scripts/test.sh          also the long soak/fault runs (label "long")
#   SANITIZE=1 scripts/test.sh      the ASan+UBSan build and suite
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
start=$(date +%s)

"$ROOT/scripts/setup.sh"

BUILD_DIR=${BUILD_DIR:-build}
[ "${SANITIZE:-0}" = "1" ] && BUILD_DIR=${BUILD_DIR_ASAN:-build-asan}

export DATALAB_SHARED_DIR=${DATALAB_SHARED_DIR:-$ROOT/../shared}
export DATALAB_SOURCE_DIR=$ROOT
export DATALAB_BIN_DIR=$ROOT/$BUILD_DIR/bin
args=("$@")
if [ ${#args[@]} -eq 0 ]; then
  if [ "${LONG:-0}" = "1" ]; then
    args=()
  else
    args=(-LE long)
  fi
fi

cd "$BUILD_DIR"
status=0
ctest --output-on-failure --timeout 900 -j "${CTEST_JOBS:-2}" "${args[@]}" || status=$?
cd "$ROOT"

for check in "$ROOT"/scripts/checks/*.sh; do
  [ -x "$check" ] || continue
  echo "== $(basename "$check")"
  "$check" || status=1
done

echo "test.sh: finished in $(( $(date +%s) - start ))s with status $status"
exit $status
