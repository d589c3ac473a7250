#!/usr/bin/env bash
# libFuzzer check (issue 10): builds the fuzz targets with clang into
# build-fuzz/ and runs each for a short, bounded time. Fails on any crash,
# sanitizer report, leak, timeout or out-of-memory, and prints the
# reproducer. scripts/test.sh runs it after ctest.
#
#   scripts/checks/fuzz.sh                      default: every target, 15 s each
#   FUZZ_SECONDS=600 scripts/checks/fuzz.sh     longer runs (10 minutes each)
#   FUZZ_TARGETS="sql_fuzz csv_fuzz" scripts/checks/fuzz.sh   a subset
#   FUZZ_CORPUS_DIR=/var/tmp/datalab-corpus FUZZ_SECONDS=3600 scripts/checks/fuzz.sh
#                                               keep the grown corpus between runs
#   SKIP_SLOW_CHECKS=1 scripts/checks/fuzz.sh   print "skipped" and exit 0 (local use;
#                                               CI does not set it)
#
# Other knobs: FUZZ_PARALLEL (targets run at once, default nproc),
# JOBS (build parallelism, default nproc), BUILD_DIR_FUZZ (default build-fuzz).
#
# The seed corpora stay read-only: each run copies them to a scratch
# directory first, because libFuzzer writes new inputs into its first corpus
# directory. Crash reproducers go to build-fuzz/fuzz-artifacts/<target>/;
# rerun one with  build-fuzz/fuzz/<target> <reproducer file>.
# See tests/fuzz/README.md.
set -euo pipefail
if [ "${SKIP_SLOW_CHECKS:-0}" = "1" ]; then
  echo "fuzz.sh: skipped (SKIP_SLOW_CHECKS=1)"
  exit 0
fi
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
start=$(date +%s)

FUZZ_SECONDS=${FUZZ_SECONDS:-15}
BUILD_DIR=${BUILD_DIR_FUZZ:-build-fuzz}
JOBS=${JOBS:-$(nproc)}
FUZZ_PARALLEL=${FUZZ_PARALLEL:-$(nproc)}

# target -> seed corpus (relative to the repo root).
declare -A SEEDS=(
  [csv_fuzz]=common/csv/fuzz_corpus
  [sql_fuzz]=services/query/sql/fuzz_corpus
  [jwt_fuzz]=tests/fuzz/corpus/jwt
  [identifiers_fuzz]=tests/fuzz/corpus/identifiers
  [audit_export_fuzz]=tests/fuzz/corpus/audit_export
  [catalogue_files_fuzz]=tests/fuzz/corpus/catalogue_files
)
ALL_TARGETS="csv_fuzz sql_fuzz jwt_fuzz identifiers_fuzz audit_export_fuzz catalogue_files_fuzz"
read -r -a TARGETS <<<"${FUZZ_TARGETS:-$ALL_TARGETS}"
for t in "${TARGETS[@]}"; do
  [ -n "${SEEDS[$t]:-}" ] || { echo "fuzz.sh: unknown target $t (known: $ALL_TARGETS)" >&2; exit 2; }
done

# clang and its libFuzzer runtime (Debian 12: clang-14; libclang_rt.fuzzer
# is in libclang-rt-14-dev, which "libclang-rt-dev" pulls in).
probe_dir=$(mktemp -d)
trap 'rm -rf "$probe_dir"' EXIT
probe_fuzzer() {
  command -v clang++ >/dev/null 2>&1 || return 1
  printf 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n' \
    >"$probe_dir/p.cc"
  clang++ -fsanitize=fuzzer,address "$probe_dir/p.cc" -o "$probe_dir/p" >/dev/null 2>&1
}
if ! probe_fuzzer; then
  echo "fuzz.sh: installing clang and libclang-rt-dev (libFuzzer)"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends clang libclang-rt-dev >/dev/null
  probe_fuzzer || { echo "fuzz.sh: clang cannot link -fsanitize=fuzzer" >&2; exit 1; }
fi

# LeakSanitizer needs ptrace-like thread suspension; some containers forbid
# it, and then every process exit would report a fatal LSan error. Probe once.
DETECT_LEAKS=1
if ! ASAN_OPTIONS=detect_leaks=1 "$probe_dir/p" -runs=1 >"$probe_dir/lsan.log" 2>&1; then
  if grep -q "LeakSanitizer has encountered a fatal error" "$probe_dir/lsan.log"; then
    echo "fuzz.sh: LeakSanitizer does not work here (ptrace restricted?); leak detection off"
    DETECT_LEAKS=0
  fi
fi

. "$ROOT/scripts/lib/build_env.sh"
use_ccache "$ROOT"
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  mkdir -p "$BUILD_DIR"
  # DATALAB_BUILD_TESTS stays ON: tests/fuzz is reached through tests/.
  # Only the fuzz targets are built, so the test executables cost nothing.
  CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DDATALAB_FUZZ=ON -DDATALAB_BUILD_TESTS=ON >"$BUILD_DIR/configure.log" 2>&1 ||
    { cat "$BUILD_DIR/configure.log"; exit 1; }
fi
cmake --build "$BUILD_DIR" --target "${TARGETS[@]}" -j "$JOBS"
built=$(date +%s)
echo "fuzz.sh: built ${#TARGETS[@]} targets in $((built - start))s; running each for ${FUZZ_SECONDS}s"

scratch=$(mktemp -d "${TMPDIR:-/tmp}/datalab-fuzz.XXXXXX")
trap 'rm -rf "$probe_dir" "$scratch"' EXIT
ARTIFACTS=$ROOT/$BUILD_DIR/fuzz-artifacts

run_one() {
  local t=$1
  local corpus=$scratch/$t/corpus
  if [ -n "${FUZZ_CORPUS_DIR:-}" ]; then
    corpus=$FUZZ_CORPUS_DIR/$t
  fi
  mkdir -p "$corpus" "$ARTIFACTS/$t"
  cp -R "$ROOT/${SEEDS[$t]}/." "$corpus/"
  local log=$scratch/$t.log
  # -timeout: one input taking over 10 s is a hang; -rss_limit_mb bounds
  # memory blow-ups (yaml aliases, deep nesting); -max_total_time bounds the run.
  if ASAN_OPTIONS="detect_leaks=$DETECT_LEAKS:halt_on_error=1:abort_on_error=0" \
     UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
     "$ROOT/$BUILD_DIR/fuzz/$t" "$corpus" \
       -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
       -detect_leaks="$DETECT_LEAKS" -print_final_stats=1 \
       -artifact_prefix="$ARTIFACTS/$t/" >"$log" 2>&1; then
    local execs
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    echo "fuzz.sh: $t ok ($execs runs, corpus $(ls "$corpus" | wc -l) files)"
    return 0
  fi
  echo "fuzz.sh: $t FAILED; last lines of its log:"
  grep -v '^#[0-9]' "$log" | tail -n 40
  local repro
  repro=$(grep -o "Test unit written to .*" "$log" | sed 's/Test unit written to //' | tail -n 1)
  echo "fuzz.sh: reproducer: ${repro:-(none written; see above)}"
  [ -n "$repro" ] && echo "fuzz.sh: rerun with: $BUILD_DIR/fuzz/$t $repro"
  return 1
}

# Up to FUZZ_PARALLEL targets at once.
run_each "$FUZZ_PARALLEL" "$scratch" run_one "${TARGETS[@]}"
status=0
failed=$(failed_items "$scratch" "${TARGETS[@]}") || status=1
echo "fuzz.sh: finished in $(($(date +%s) - start))s (build $((built - start))s)" \
     "${failed:+; FAILED: $failed}"
exit $status
