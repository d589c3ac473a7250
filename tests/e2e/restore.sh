#!/usr/bin/env bash
# Backup and restore of a local lab, exactly as docs/operations.md ("Back up",
# "Local lab"; "Restore", step 5) tells trust IT to do it: stop the lab,
# archive data, secrets, pki and dev-idp, unpack the archive into a fresh
# lab directory, start the lab there, and check that nothing was lost: the
# audit log verifies offline and still holds the signed tree head seen
# before the backup, the catalogue lists the same datasets and project, and
# the restored data gives the same released answer to the same query.
. "$(dirname "$0")/lib.sh"
e2e_init restore
lab_up
setup_data 2 restore
Q="SELECT disadvantaged, COUNT(DISTINCT pupil) AS n FROM census GROUP BY disadvantaged"
answer() { echo "$OUT" | grep -v -e '^release:' -e '^note:'; }

expect_ok "query before the backup" dl query --project restore "$Q" --as alice
BEFORE_ANSWER=$(answer)
expect_ok "catalogue before the backup" dl catalogue list --as steward
BEFORE_CATALOGUE=$OUT
expect_ok "audit head before the backup" dl audit head --as dpo
BEFORE_ROOT=$(echo "$OUT" | sed -n 's/^root  *//p')
BEFORE_SIZE=$(echo "$OUT" | sed -n 's/^tree size  *//p')

# ---- back up: stop, archive ----------------------------------------------------
lab down >/dev/null 2>&1 && pass "lab stopped for the backup" || fail "lab down" "did not stop"
if tar -C "$VAR" -czf "$VAR/backup.tgz" data secrets pki dev-idp; then
  pass "backup archive written ($(du -h "$VAR/backup.tgz" | cut -f1))"
else
  fail "backup archive" "tar failed"; e2e_finish
fi

# ---- restore into a fresh lab directory --------------------------------------------
ORIG=$VAR
E2E_EARLIER_LABS=$ORIG  # its logs too, if a check fails
VAR=$ORIG/restored
mkdir -p "$VAR"
# The cleanup trap stops the lab in $VAR (now the restored one) and removes
# $VAR; this hook removes the original directory as well.
[ "${DATALAB_E2E_KEEP:-0}" = 1 ] || E2E_CLEANUP_HOOK="rm -rf '$ORIG'"
export DATALAB_VAR=$VAR DATALAB_ENV=$VAR/lab.env
tar -C "$VAR" -xzf "$ORIG/backup.tgz" && pass "archive unpacked into a fresh lab directory" \
  || { fail "restore" "tar -x failed"; e2e_finish; }
lab_up
pass "restored lab up (6 services SERVING)"
for p in alice:researcher steward:data_steward dpo:dpo; do
  dl dev login --as "${p%%:*}" --role "${p##*:}" >/dev/null
done

# ---- verify, as the runbook says ----------------------------------------------------
expect_ok "restored: audit export" dl audit export --out "$VAR/audit.jsonl" --as dpo
expect_ok "restored: the exported log verifies offline" "$BIN/datalab-audit-verify" --export "$VAR/audit.jsonl"
if [ -n "$BEFORE_ROOT" ] && grep -q "\"root_hash\":\"$BEFORE_ROOT\"" "$VAR/audit.jsonl"; then
  pass "restored: the signed tree head from before the backup (size $BEFORE_SIZE) is in the log"
else
  fail "restored: tree head from before the backup" "root $BEFORE_ROOT not among the exported heads"
fi
expect_ok "restored: audit head" dl audit head --as dpo
AFTER_SIZE=$(echo "$OUT" | sed -n 's/^tree size  *//p')
[ "${AFTER_SIZE:-0}" -ge "${BEFORE_SIZE:-1}" ] && pass "restored: the log did not shrink ($BEFORE_SIZE -> $AFTER_SIZE)" \
  || fail "restored: log size" "$BEFORE_SIZE before, $AFTER_SIZE after"
expect_ok "restored: catalogue" dl catalogue list --as steward
[ "$OUT" = "$BEFORE_CATALOGUE" ] && pass "restored: the catalogue lists the same datasets and versions" \
  || { fail "restored: catalogue" "differs from before the backup"; echo "$OUT" | head -5; }
expect_ok "restored: the project is still approved" dl projects show restore --as alice
expect_match "restored: project state" "APPROVED" "$OUT"
expect_ok "restored: the same query" dl query --project restore "$Q" --as alice
[ "$(answer)" = "$BEFORE_ANSWER" ] && pass "restored: the same released answer as before the backup" \
  || { fail "restored: query answer" "differs"; echo "$OUT" | head -8; }
e2e_finish
