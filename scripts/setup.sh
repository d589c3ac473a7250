#!/usr/bin/env bash
# Installs every system dependency (Debian 12, as root, idempotent,
# non-interactive) and builds datalab into build/.
#
#   scripts/setup.sh            install what is missing, configure, build
#   SANITIZE=1 scripts/setup.sh ASan+UBSan build in build-asan/
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git openssl ca-certificates
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev librocksdb-dev libssl-dev prometheus-cpp-dev
  libgtest-dev libgmock-dev nlohmann-json3-dev libyaml-cpp-dev libroaring-dev
  libtcmalloc-minimal4
  curl
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

BUILD_DIR=${BUILD_DIR:-build}
EXTRA=()
if [ "${SANITIZE:-0}" = "1" ]; then
  BUILD_DIR=${BUILD_DIR_ASAN:-build-asan}
  EXTRA+=(-DDATALAB_SANITIZE=ON)
fi
. "$ROOT/scripts/lib/build_env.sh"
use_ccache "$ROOT"
ccache --max-size=5G >/dev/null 2>&1 || true

if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${EXTRA[@]}"
fi
JOBS=${JOBS:-$(nproc)}
cmake --build "$BUILD_DIR" -j "$JOBS"
echo "setup: built into $BUILD_DIR/bin"
