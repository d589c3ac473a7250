#!/usr/bin/env bash
# End-to-end research journey over the real services on loopback:
# steward, admin, researcher, approver and DPO each do their part, and every
# safeguard on the way is checked (self-approval, dual-control
# re-identification, erasure, expired projects, lapsed accreditation).
. "$(dirname "$0")/lib.sh"
e2e_init journey
lab_up
pass "lab up (6 services SERVING)"

TRUST=$VAR/trust
run "$BIN/datalab-synth" --out "$TRUST" --schools 5 --seed 5
[ "$RC" -eq 0 ] && pass "synthetic trust generated (5 schools)" || { fail "synthetic trust" "exit $RC"; e2e_finish; }
SCHOOLS=$(tail -n +2 "$TRUST/schools.csv" | cut -d, -f1)
EXTRACT=$(date -u -d '-30 days' +%Y-%m-%d)

# ---- admin: users with accreditation, a reversible pupil domain ----------
personas
dl dev login --as carol --role researcher,project_approver >/dev/null
expect_ok "admin creates user carol (researcher and approver)" dl users create carol --as admin \
  --display-name Carol --roles researcher,project_approver --scheme "ONS Accredited Researcher" \
  --training-date "$(date -u -d '-60 days' +%Y-%m-%d)" --expiry-date "$(date -u -d '+1 year' +%Y-%m-%d)"
expect_ok "user alice has a current accreditation" dl users show alice --as admin
expect_match "user alice shows her accreditation" "ONS Accredited Researcher" "$OUT"
expect_ok "admin creates reversible pupil domain" dl domains create --domain pupil --kind upn --reversible=true --as admin
expect_rc "a researcher cannot create a domain" 4 dl domains create --domain staff --kind staff-number --as alice

# ---- steward: datasets, schemas, uploads ---------------------------------
for ds in census attendance ks4 ks2; do
  expect_ok "steward registers dataset $ds" dl catalogue create --file "$ROOT/services/catalogue/examples/$ds.yaml" --as steward
done
expect_rc "a researcher cannot register a dataset" 4 dl catalogue create --file "$ROOT/services/catalogue/examples/suspensions.yaml" --as alice

# Two real DfE files with the schemas shipped for them.
declare -A DFE_ID
for pair in "england_abs:england_abs.csv" "gias_edubasealldata_sample:gias_edubasealldata_sample.csv"; do
  schema=${pair%%:*}; file=${pair##*:}
  json=$ROOT/services/ingestion/dfe_schemas/$schema.json
  id=$(python3 -c "import json;print(json.load(open('$json'))['datasetId'])")
  if expect_ok "steward registers DfE schema $schema.json as shipped" dl catalogue create --file "$json" --as steward; then
    DFE_ID[$schema]=$id
  else
    # Keep the journey going with a copy the catalogue accepts (the shipped
    # file is reported above as a failure).
    id=${id//-/_}
    python3 - "$json" "$VAR/$schema.json" "$id" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); d['datasetId'] = sys.argv[3]
d['dataset'].pop('name', None); d['schema'].pop('name', None)
json.dump(d, open(sys.argv[2], 'w'))
PY
    run dl catalogue create --file "$VAR/$schema.json" --as steward
    [ "$RC" -eq 0 ] && echo "    (continuing with dataset $id registered from a corrected copy)"
    DFE_ID[$schema]=$id
  fi
  RUN_TIMEOUT=25 expect_ok "steward uploads DfE $file (trust-wide)" dl upload "$DFE/$file" \
    --dataset "${DFE_ID[$schema]}" --school trust-wide --extract-date "$EXTRACT" --as steward --json
  expect_match "DfE $file committed" '"state": "COMMITTED"' "$OUT"
done

n_up=0; n_ok=0
for u in $SCHOOLS; do
  for ds in census attendance ks4 ks2; do
    [ -f "$TRUST/$ds/$u.csv" ] || continue
    n_up=$((n_up + 1))
    run dl upload "$TRUST/$ds/$u.csv" --dataset $ds --school "$u" --extract-date "$EXTRACT" --as steward --json
    if [ "$RC" -eq 0 ] && echo "$OUT" | grep -q '"state": "COMMITTED"'; then
      n_ok=$((n_ok + 1))
    else
      fail "upload $ds/$u.csv" "not committed"; last_output
    fi
  done
done
[ "$n_ok" -eq "$n_up" ] && pass "steward uploads the synthetic trust ($n_ok files committed)"
FIRST_SCHOOL=$(echo "$SCHOOLS" | head -1)
expect_fail "upload with a bad --wait-timeout is refused before anything is sent" \
  dl upload "$TRUST/census/$FIRST_SCHOOL.csv" --dataset census --school "$FIRST_SCHOOL" \
  --extract-date "$EXTRACT" --allow-duplicate=true --wait-timeout 0 --as steward
expect_match "the refusal names --wait-timeout" "wait-timeout" "$ERR"
expect_ok "steward reads the quality trend" dl catalogue quality census --as steward
expect_match "census has one version per school upload" "datasets/census/versions/5" "$OUT"
expect_rc "a researcher cannot upload" 4 dl upload "$TRUST/census/$(echo "$SCHOOLS" | head -1).csv" \
  --dataset census --school "$(echo "$SCHOOLS" | head -1)" --extract-date "$EXTRACT" --as alice

# ---- researcher proposes, approver approves --------------------------------
DATASETS="    - dataset: datasets/census
      columns: [disadvantaged, fsm, sen_provision, ethnicity, nc_year, term]
    - dataset: datasets/ks4
      columns: [ks4_year, attainment8, progress8]
    - dataset: datasets/attendance
      columns: [term, sessions_possible, sessions_authorised_absence, sessions_unauthorised_absence]"
project_file "$VAR/gap.yaml" gap "$DATASETS"
expect_ok "researcher alice proposes project gap" dl projects create --file "$VAR/gap.yaml" --as alice
expect_match "project gap is PROPOSED" "PROPOSED" "$OUT"
expect_fail "query refused before approval" dl query --project gap "SELECT COUNT(*) FROM census" --as alice
project_file "$VAR/carol.yaml" carolproj "$DATASETS"
expect_ok "carol (researcher and approver) proposes carolproj" dl projects create --file "$VAR/carol.yaml" --as carol
expect_rc "self-approval refused (carol approves her own project)" 4 dl projects approve carolproj --as carol
expect_rc "a researcher cannot approve" 4 dl projects approve gap --as alice
expect_ok "approver approves gap" dl projects approve gap --as approver --comment "panel 2026-11"
expect_match "project gap is APPROVED by approver" "approved by +users/approver" "$OUT"
expect_ok "approver adds bob to gap" dl projects add-member gap bob --as approver

# ---- research queries -----------------------------------------------------------
Q1="SELECT census._school, disadvantaged, COUNT(DISTINCT pupil) AS pupils, AVG(attainment8) AS a8
FROM census JOIN ks4 USING (pupil) WHERE term = 'autumn 2025'
GROUP BY census._school, disadvantaged"
Q2="SELECT sen_provision, COUNT(DISTINCT pupil) AS pupils,
  PROPORTION((sessions_authorised_absence + sessions_unauthorised_absence) * 10 >= sessions_possible) AS persistent_absence
FROM census JOIN attendance USING (pupil, term) GROUP BY sen_provision"
Q3="SELECT ethnicity, COUNT(DISTINCT pupil) AS pupils, AVG(progress8) AS p8
FROM census JOIN ks4 USING (pupil) WHERE term = 'autumn 2025' GROUP BY ethnicity"
NOTES=0
RELEASES=()
for q in Q1 Q2 Q3; do
  label=$( case $q in Q1) echo "disadvantage gap in Attainment 8 by school";; Q2) echo "persistent absence by SEN status";; Q3) echo "progress by ethnicity group";; esac )
  if expect_ok "alice queries: $label" dl query --project gap "${!q}" --as alice --purpose "e2e journey"; then
    echo "$OUT" | head -n 30 | sed 's/^/    | /'
    expect_match "$label: released with a release name" "^release: projects/gap/releases/" "$OUT"
    rel=$(echo "$OUT" | sed -n 's/^release: //p' | head -1); [ -n "$rel" ] && RELEASES+=("$rel")
    echo "$OUT" | grep -q '^note:' && NOTES=$((NOTES + 1))
    expect_no_match "$label: no pseudonym or UPN in the output" "[A-Z][0-9]{12}|[a-z2-7]{26}" "$OUT"
  fi
done
[ "$NOTES" -gt 0 ] && pass "disclosure notes explain suppression/rounding ($NOTES of 3 results)" \
  || fail "disclosure notes" "none of the three results carried a note"
expect_ok "alice's query history lists her releases" dl history --project gap --as alice
expect_match "history shows released queries" "released" "$OUT"
if [ ${#RELEASES[@]} -gt 0 ]; then
  expect_ok "released table can be exported as CSV" dl release export "${RELEASES[0]}" --as alice
fi
expect_ok "member bob can query gap" dl query --project gap "SELECT disadvantaged, COUNT(DISTINCT pupil) FROM census GROUP BY disadvantaged" --as bob
expect_rc "non-member mallory cannot query gap" 4 dl query --project gap "SELECT COUNT(*) FROM census" --as mallory
expect_rc "a dpo cannot query data" 4 dl query --project gap "SELECT COUNT(*) FROM census" --as dpo
expect_rc "an admin cannot query data" 4 dl query --project gap "SELECT COUNT(*) FROM census" --as admin

# ---- expired project, lapsed accreditation --------------------------------------
cat >"$VAR/old.yaml" <<YAML
project_id: oldproj
project:
  title: "An expired project"
  purpose: "Checks that an expired project cannot be used"
  lawful_basis: "Art. 6(1)(e) public task"
  datasets:
    - dataset: datasets/census
      columns: [disadvantaged, term]
  dates:
    start_date: "$(date -u -d '-400 days' +%Y-%m-%d)"
    end_date: "$(date -u -d '-2 days' +%Y-%m-%d)"
YAML
run dl projects create --file "$VAR/old.yaml" --as alice
if [ "$RC" -eq 0 ]; then
  run dl projects approve oldproj --as approver
  expect_fail "query in an expired project refused" dl query --project oldproj "SELECT disadvantaged, COUNT(*) FROM census GROUP BY disadvantaged" --as alice
else
  pass "a project whose end date has passed cannot even be proposed (exit $RC)"
fi
# A lapsed accreditation: the catalogue refuses to record an expiry date in
# the past, so the lapse is exercised with a researcher whose accreditation
# was never recorded (the same "no current accreditation" decision), and the
# refusal to back-date is checked too.
expect_rc "admin cannot record an already-lapsed accreditation" 7 dl users update bob --as admin \
  --scheme "ONS Accredited Researcher" --training-date "$(date -u -d '-800 days' +%Y-%m-%d)" \
  --expiry-date "$(date -u -d '-1 days' +%Y-%m-%d)"
dl dev login --as dave --role researcher >/dev/null
expect_ok "admin creates dave without an accreditation" dl users create dave --as admin --display-name Dave --roles researcher
expect_ok "approver adds dave to gap" dl projects add-member gap dave --as approver
expect_rc "query without a current accreditation refused" 4 dl query --project gap "SELECT disadvantaged, COUNT(DISTINCT pupil) FROM census GROUP BY disadvantaged" --as dave
expect_ok "admin deactivates bob" dl users update bob --as admin --active=false
expect_rc "query by a deactivated member refused" 4 dl query --project gap "SELECT disadvantaged, COUNT(DISTINCT pupil) FROM census GROUP BY disadvantaged" --as bob

# ---- erasure (Art. 17) --------------------------------------------------------------
FIRST=$(echo "$SCHOOLS" | head -1)
ERASE_UPN=$(sed -n 2p "$TRUST/census/$FIRST.csv" | cut -d, -f1)
expect_ok "dpo subject access finds the pupil" dl subject access --domain pupil --identifier "$ERASE_UPN" --reference SAR-1 --as dpo --json
before=$(echo "$OUT" | python3 -c "import json,sys; d=json.load(sys.stdin); print(sum(int(r.get('records',0)) for r in d.get('records',[])))" 2>/dev/null || echo 0)
[ "${before:-0}" -gt 0 ] && pass "subject access reports $before record(s) before erasure" || fail "subject access before erasure" "no records found"
expect_rc "a researcher cannot request erasure" 4 dl subject erase --domain pupil --identifier "$ERASE_UPN" --reference ER-0 --as alice
expect_ok "dpo erases the pupil" dl subject erase --domain pupil --identifier "$ERASE_UPN" --reference ER-1 --as dpo --json
expect_match "erasure reports the subject erased" '"erased": true' "$OUT"
expect_ok "dpo subject access after erasure" dl subject access --domain pupil --identifier "$ERASE_UPN" --reference SAR-2 --as dpo --json
after=$(echo "$OUT" | python3 -c "import json,sys; d=json.load(sys.stdin); print(sum(int(r.get('records',0)) for r in d.get('records',[])))" 2>/dev/null || echo 1)
[ "${after:-1}" -eq 0 ] && pass "no record of the pupil remains in any version" || fail "erasure complete" "$after record(s) remain"
expect_ok "audit search for the erasure" dl audit search --action pseudonymisation.subject.erase --as dpo
expect_match "audit shows the erasure" "pseudonymisation.subject.erase +allow" "$OUT"

# ---- re-identification under dual control -------------------------------------------
REID_UPN=$(sed -n 3p "$TRUST/census/$FIRST.csv" | cut -d, -f1)
PROBE=$BIN/datalab-e2e-probe
run "$PROBE" --target "$DATALAB_PSEUDONYMISATION_ADDR" --ca "$VAR/pki/ca.pem" \
  --cert "$VAR/pki/ingestion.pem" --key "$VAR/pki/ingestion.key" \
  --method /datalab.pseudonymisation.v1.PseudonymisationService/Pseudonymise \
  --json "{\"domain\":\"domains/pupil\",\"identifiers\":[\"$REID_UPN\"]}"
PSEUDO=$(echo "$OUT" | sed -n 2p | python3 -c "import json,sys; print(json.load(sys.stdin)['results'][0]['pseudonym'])" 2>/dev/null)
if [ -z "$PSEUDO" ]; then
  fail "obtain a pupil's pseudonym (as the ingestion service)" "probe: $(echo "$OUT" | head -1)"
else
  pass "obtained a pupil's pseudonym for the re-identification case"
  expect_rc "a researcher cannot request re-identification" 4 dl reid request --domain pupil --pseudonym "$PSEUDO" --reason "x" --as alice
  if ! expect_ok "dpo requests re-identification of an uploaded pupil" dl reid request --domain pupil --pseudonym "$PSEUDO" --reason "safeguarding case SG-7" --as dpo --json; then
    # Uploads into a reversible domain should have vaulted the identifier;
    # vault it the way ingestion should, to exercise dual control anyway.
    echo "    (vaulting the pupil's identifier directly, as the ingestion service, to go on)"
    run as_service ingestion --target "$DATALAB_PSEUDONYMISATION_ADDR" \
      --method /datalab.pseudonymisation.v1.PseudonymisationService/Pseudonymise \
      --json "{\"domain\":\"domains/pupil\",\"identifiers\":[\"$REID_UPN\"],\"vault\":true}"
    expect_ok "dpo requests re-identification" dl reid request --domain pupil --pseudonym "$PSEUDO" --reason "safeguarding case SG-7" --as dpo --json
  fi
  REQ=$(echo "$OUT" | python3 -c "import json,sys; print(json.load(sys.stdin)['name'])" 2>/dev/null)
  expect_fail "collect refused without a second approver" dl reid collect --request "$REQ" --as dpo
  expect_no_match "nothing re-identified before approval" "$REID_UPN" "$OUT"
  expect_rc "the requester cannot approve their own request" 4 dl reid approve --request "$REQ" --as dpo
  expect_rc "an admin cannot approve re-identification" 4 dl reid approve --request "$REQ" --as admin
  expect_ok "a second dpo approves" dl reid approve --request "$REQ" --as dpo2 --comment "checked"
  expect_fail "someone other than the requester cannot collect" dl reid collect --request "$REQ" --as dpo2
  expect_ok "the requester collects" dl reid collect --request "$REQ" --as dpo
  expect_match "the collected identifier is the pupil's UPN" "$REID_UPN" "$OUT"
  expect_fail "a second collect is refused" dl reid collect --request "$REQ" --as dpo
  expect_no_match "nothing re-identified the second time" "$REID_UPN" "$OUT"
fi

# ---- DPO: audit search, export, verify, tamper ----------------------------------------
sleep 1
expect_ok "dpo searches the audit by project" dl audit search --project projects/gap --as dpo --json --limit 500
expect_match "audit has the project's query releases" "\"project\":\"projects/gap\"" "$OUT"
expect_match "audit records the self-approval refusal" "deny" "$(dl audit search --project projects/carolproj --as dpo 2>&1)"
expect_match "audit records the re-identification approval" "pseudonymisation.reid.approve" "$(dl audit search --action pseudonymisation.reid.approve --as dpo 2>&1)"
expect_rc "a researcher cannot read the audit" 4 dl audit search --as alice
expect_ok "dpo access report" dl audit report --project projects/gap --as dpo
sleep 11   # let the audit service sign a tree head covering the events above
expect_ok "dpo exports the audit" dl audit export --out "$VAR/audit.jsonl" --as dpo
expect_ok "exported audit verifies" dl audit verify --export "$VAR/audit.jsonl"
cp "$VAR/audit.jsonl" "$VAR/audit-tampered.jsonl"
python3 - "$VAR/audit-tampered.jsonl" <<'PY'
import sys
p = sys.argv[1]
lines = open(p, 'rb').read().split(b'\n')
# Change one byte inside one entry (a line in the middle of the log).
idx = [i for i, l in enumerate(lines) if b'"entry"' in l or b'"leaf"' in l or b'"event"' in l]
i = idx[len(idx) // 2] if idx else len(lines) // 2
l = bytearray(lines[i]); j = len(l) // 2
while not chr(l[j]).isalnum(): j += 1
l[j] = ord('B') if l[j] != ord('B') else ord('C')
lines[i] = bytes(l)
open(p, 'wb').write(b'\n'.join(lines))
PY
expect_fail "a copy with one byte changed fails verification" dl audit verify --export "$VAR/audit-tampered.jsonl"

# ---- known-bad input paths (bounded, at the end: they must not wedge the lab) ----------
expect_ok "steward registers dataset suspensions" dl catalogue create --file "$ROOT/services/catalogue/examples/suspensions.yaml" --as steward
SUSP=$(ls "$TRUST"/suspensions/*.csv | head -1)
RUN_TIMEOUT=30 run dl upload "$SUSP" --dataset suspensions --school "$(basename "$SUSP" .csv)" --as steward --json
if [ "$RC" -eq 124 ] || [ "$RC" -eq 137 ]; then
  fail "upload without --extract-date reaches a final state" "the job never ended within 30 s (CLI kept polling)"
  dl jobs list --dataset suspensions --as steward | sed 's/^/    /'
else
  pass "upload without --extract-date reaches a final state (exit $RC)"
fi
e2e_finish
