#!/usr/bin/env bash
# Faults: audit down, pseudonymisation down, disk full under a service, and
# a slow backend. Each fault is injected into a running lab and the lab must
# fail cleanly (no hang, no crash, no partial data) and recover.
. "$(dirname "$0")/lib.sh"
e2e_init faults
lab_up
setup_data 3 faults
Q="SELECT disadvantaged, COUNT(DISTINCT pupil) AS n FROM census GROUP BY disadvantaged"
FIRST=$(echo "$SCHOOLS" | head -1)

audit_count() {  # events matching the filters, e.g. audit_count --action x
  "$BIN/datalab" audit search "$@" --limit 100000 --json --as dpo 2>/dev/null | grep -c '"index"' || true
}

# ---- 1. audit down -------------------------------------------------------------
expect_ok "query released while audit is up" dl query --project faults "$Q" --as alice
svc_stop audit
RUN_TIMEOUT=60 run dl query --project faults "$Q" --as alice
if [ "$RC" -ne 0 ] && ! echo "$OUT" | grep -q '^release:'; then
  pass "audit down: query release refused (exit $RC)"
  expect_match "audit down: the refusal says UNAVAILABLE (exit 6)" "^6$" "$RC"
else
  fail "audit down: query release refused" "exit $RC"; last_output
fi
dl dev login --as fiona --role researcher >/dev/null
expect_ok "audit down: catalogue change still accepted (event goes to the outbox)" \
  dl users create fiona --as admin --display-name Fiona --roles researcher
outbox=$(find "$VAR/data/catalogue" -path '*outbox*' -type f 2>/dev/null | wc -l)
[ "$outbox" -gt 0 ] && pass "audit down: catalogue's outbox holds the pending event ($outbox file(s))" \
  || fail "audit down: outbox" "no files under data/catalogue/*outbox*"
svc_start audit && pass "audit restarted (SERVING after ${SERVING_MS} ms)" || fail "audit restart" "not serving"
found=0
for _ in $(seq 1 40); do
  if "$BIN/datalab" audit search --action catalogue.user.create --limit 1000 --as dpo 2>/dev/null | grep -q 'fiona\|user.create'; then
    "$BIN/datalab" audit search --limit 100000 --json --as dpo 2>/dev/null | grep -q 'users/fiona' && { found=1; break; }
  fi
  sleep 0.5
done
[ $found -eq 1 ] && pass "audit back: the outboxed event arrived" || fail "audit back: outboxed event" "no event naming users/fiona within 20 s"
expect_ok "audit back: queries released again" dl query --project faults "$Q" --as alice

# ---- 2. pseudonymisation down ----------------------------------------------------
versions_before=$("$BIN/datalab" catalogue quality census --as steward --json 2>/dev/null | grep -c '"name"')
svc_stop pseudonymisation
t0=$(date +%s)
RUN_TIMEOUT=120 run dl upload "$TRUST/census/$FIRST.csv" --dataset census --school "$FIRST" \
  --extract-date "$EXTRACT" --allow-duplicate=true --retries 1 --as steward --json
t1=$(date +%s)
if [ "$RC" -ne 0 ] && [ "$RC" -ne 124 ]; then
  pass "pseudonymisation down: upload fails cleanly in $((t1 - t0)) s (exit $RC)"
else
  fail "pseudonymisation down: upload fails cleanly" "exit $RC after $((t1 - t0)) s"; last_output
fi
versions_mid=$("$BIN/datalab" catalogue quality census --as steward --json 2>/dev/null | grep -c '"name"')
[ "$versions_mid" -eq "$versions_before" ] && pass "pseudonymisation down: no version was made" \
  || fail "pseudonymisation down: no version" "$versions_before -> $versions_mid versions"
svc_start pseudonymisation && pass "pseudonymisation restarted (SERVING after ${SERVING_MS} ms)" || fail "pseudonymisation restart" "not serving"
tries=0; ok=0
for tries in 1 2 3 4 5 6; do
  RUN_TIMEOUT=60 run dl upload "$TRUST/census/$FIRST.csv" --dataset census --school "$FIRST" \
    --extract-date "$EXTRACT" --allow-duplicate=true --as steward --json
  if [ "$RC" -eq 0 ] && echo "$OUT" | grep -q '"state": "COMMITTED"'; then ok=1; break; fi
  echo "    try $tries: $(echo "$OUT" | grep '"error"' | cut -c1-150)"
  sleep 5
done
if [ $ok -eq 1 ] && [ $tries -eq 1 ]; then
  pass "pseudonymisation back: the first retry succeeds"
elif [ $ok -eq 1 ]; then
  fail "pseudonymisation back: the first retry succeeds" "only try $tries succeeded (ingestion's channel stayed in reconnect backoff after pseudonymisation was SERVING)"
else
  fail "pseudonymisation back: the upload succeeds on retry" "6 tries over 30 s failed"
fi

# ---- 3. disk full under ingestion ---------------------------------------------------
MNT=$VAR/data/ingestion
if [ "$(id -u)" -ne 0 ]; then
  skip "disk full" "not root: cannot mount a small tmpfs"
elif ! mkdir -p "$VAR/tmpfs-probe" || ! mount -t tmpfs -o size=1m tmpfs "$VAR/tmpfs-probe" 2>/dev/null; then
  skip "disk full" "mount -t tmpfs is not permitted here"
else
  umount "$VAR/tmpfs-probe"
  svc_stop ingestion
  cp -a "$MNT" "$VAR/ingestion-data.bak"
  mount -t tmpfs -o size=128m tmpfs "$MNT"
  E2E_CLEANUP_HOOK="umount -l '$MNT' 2>/dev/null"
  cp -a "$VAR/ingestion-data.bak/." "$MNT/"
  svc_start ingestion && pass "ingestion runs on a 128 MiB volume" || fail "ingestion on tmpfs" "not serving"
  # A file larger than the space left: a census of 12 more schools.
  "$BIN/datalab-synth" --out "$VAR/big" --schools 12 --seed 9 >/dev/null 2>&1
  BIG=$VAR/big-census.csv
  head -1 "$(ls "$VAR"/big/census/*.csv | head -1)" >"$BIG"
  for f in "$VAR"/big/census/*.csv; do tail -n +2 "$f" >>"$BIG"; done
  BIGURN=$(tail -n +2 "$VAR/big/schools.csv" | head -1 | cut -d, -f1)
  avail=$(df -k --output=avail "$MNT" | tail -1)
  fill=$(( avail - 256 ))
  [ $fill -gt 0 ] && dd if=/dev/zero of="$MNT/filler" bs=1k count=$fill status=none 2>/dev/null
  log "disk full: $(df -h --output=avail "$MNT" | tail -1 | tr -d ' ') left on the volume, uploading $(du -h "$BIG" | cut -f1)"
  t0=$(date +%s)
  RUN_TIMEOUT=120 run dl upload "$BIG" --dataset census --school "$BIGURN" --extract-date "$EXTRACT" --retries 1 --as steward --json
  t1=$(date +%s)
  if [ "$RC" -ne 0 ] && [ "$RC" -ne 124 ]; then
    pass "disk full: upload fails with a clean error in $((t1 - t0)) s (exit $RC)"
    echo "$ERR" | grep -i error | tail -1 | sed 's/^/    /'
  else
    fail "disk full: upload fails cleanly" "exit $RC after $((t1 - t0)) s"; last_output
  fi
  if "$BIN/datalab" health --timeout-ms 1000 >/dev/null 2>&1; then
    pass "disk full: the lab still serves"
  else
    fail "disk full: the lab still serves" "health is not SERVING"
  fi
  rm -f "$MNT/filler"
  log "disk full: filler removed, $(df -h --output=avail "$MNT" | tail -1 | tr -d ' ') free; $(du -sh "$MNT" | cut -f1) used by the service"
  RUN_TIMEOUT=120 run dl upload "$BIG" --dataset census --school "$BIGURN" --extract-date "$EXTRACT" --as steward --json
  if [ "$RC" -eq 0 ] && echo "$OUT" | grep -q '"state": "COMMITTED"'; then
    pass "disk full: space back, the upload succeeds without a restart"
  else
    fail "disk full: recovery without a restart" "exit $RC"; last_output
    svc_stop ingestion; svc_start ingestion
    RUN_TIMEOUT=120 expect_ok "disk full: the upload succeeds after a restart" dl upload "$BIG" --dataset census \
      --school "$BIGURN" --extract-date "$EXTRACT" --as steward --json
  fi
fi

# ---- 4. slow backends: deadlines honoured, no orphaned work -------------------------
TOKEN=$VAR/tokens/alice
REQ="{\"project\":\"projects/faults\",\"sql\":\"$Q\",\"purpose\":\"deadline test\"}"
releases_before=$(audit_count --project projects/faults --action query.release)
for slow in catalogue query; do
  pid=$(svc_pid $slow)
  kill -STOP "$pid"
  run probe --target "$DATALAB_GATEWAY" --token-file "$TOKEN" --deadline-ms 3000 \
    --method /datalab.query.v1.QueryService/RunQuery --json "$REQ"
  kill -CONT "$pid"
  ms=$(echo "$OUT" | sed -n 's/.*elapsed_ms=\([0-9]*\).*/\1/p')
  code=$(echo "$OUT" | sed -n 's/^code=\([A-Z_]*\).*/\1/p')
  if [ "$code" = DEADLINE_EXCEEDED ] && [ "${ms:-99999}" -le 4000 ]; then
    pass "slow $slow: the 3 s deadline is honoured (DEADLINE_EXCEEDED after $ms ms)"
  else
    fail "slow $slow: deadline honoured" "$(echo "$OUT" | head -1)"
  fi
done
# The CLI's own deadline: `health` with a 500 ms budget against a stopped service.
pid=$(svc_pid catalogue); kill -STOP "$pid"
t0=$(date +%s%N); run dl health --timeout-ms 500; t1=$(date +%s%N); kill -CONT "$pid"
ms=$(( (t1 - t0) / 1000000 ))
[ "$RC" -ne 0 ] && [ $ms -lt 5000 ] && pass "CLI deadline: health reports the stopped catalogue in $ms ms (exit $RC)" \
  || fail "CLI deadline" "exit $RC after $ms ms"
sleep 3
releases_after=$(audit_count --project projects/faults --action query.release)
[ "$releases_after" -eq "$releases_before" ] && pass "no orphaned work: the timed-out queries released nothing ($releases_after releases)" \
  || fail "no orphaned work" "releases went from $releases_before to $releases_after after the callers gave up"
expect_ok "after the slow spell: queries work" dl query --project faults "$Q" --as alice
e2e_finish
