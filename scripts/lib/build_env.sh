# Sourced by scripts/setup.sh and scripts/checks/*.sh (not run directly).

# use_ccache ROOT: the compiler cache every build directory shares, keyed by
# paths relative to ROOT so a fresh clone elsewhere reuses the objects.
use_ccache() {
  export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
  export CCACHE_BASEDIR=$1
  export CCACHE_NOHASHDIR=1
  mkdir -p "$CCACHE_DIR"
}

# run_each PARALLEL RCDIR FUNC ITEM...: runs `FUNC ITEM` for every item, at
# most PARALLEL at once, and records each exit code in RCDIR/ITEM.rc
# (wait -n reaps jobs, so their codes are not read back from wait).
run_each() {
  local parallel=$1 rcdir=$2 func=$3 item
  shift 3
  for item in "$@"; do
    while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do wait -n || true; done
    ( rc=0; "$func" "$item" || rc=$?; echo "$rc" >"$rcdir/$item.rc" ) &
  done
  wait
}

# failed_items RCDIR ITEM...: prints the items whose recorded code is not 0
# (or missing); returns 1 when there is any.
failed_items() {
  local rcdir=$1 item
  local bad=()
  shift
  for item in "$@"; do
    [ "$(cat "$rcdir/$item.rc" 2>/dev/null || echo 1)" = "0" ] || bad+=("$item")
  done
  [ ${#bad[@]} -eq 0 ] && return 0
  echo "${bad[*]}"
  return 1
}
