#!/usr/bin/env bash
# The lab, working, in a few minutes: installs what is missing, builds,
# starts a local lab on 127.0.0.1 (scripts/lab.sh), loads a synthetic trust
# and walks through what each kind of user does.
#
#   scripts/demo.sh              fresh demo lab in var/ (an earlier demo lab is reset)
#   DEMO_SCHOOLS=12 scripts/demo.sh
#
# Afterwards the lab keeps running: `scripts/lab.sh status`, `scripts/lab.sh down`,
# and `build/bin/datalab --as researcher query ...` (DATALAB_ENV=var/lab.env).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export DATALAB_VAR=${DATALAB_VAR:-$ROOT/var}
BIN=${DATALAB_BIN:-$ROOT/build/bin}
SCHOOLS=${DEMO_SCHOOLS:-6}
export DATALAB_ENV="$DATALAB_VAR/lab.env"

bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
say() { printf '%s\n' "$*"; }
dl() { echo "\$ datalab $*" >&2; "$BIN/datalab" "$@"; }
# A command that must be refused: shows the refusal, fails the demo if it is allowed.
refused() {
  echo "\$ datalab $*   (expected to be refused)" >&2
  if "$BIN/datalab" "$@"; then echo "demo: that should have been refused" >&2; exit 1; fi
}

"$ROOT/scripts/setup.sh"

if [ -f "$DATALAB_VAR/.demo" ]; then
  "$ROOT/scripts/lab.sh" reset >/dev/null
elif [ -d "$DATALAB_VAR/data" ]; then
  echo "demo: $DATALAB_VAR holds a lab that is not a demo lab; set DATALAB_VAR to another directory" >&2
  exit 1
fi
bold "Starting the lab: six services on 127.0.0.1, TLS everywhere, mTLS between services"
"$ROOT/scripts/lab.sh" up
touch "$DATALAB_VAR/.demo"
dl health

bold "People: the trust's identity provider (a dev one here) issues tokens with roles"
for p in admin:admin steward:data_steward approver:project_approver researcher:researcher \
         dpo:dpo dpo2:dpo; do
  dl dev login --as "${p%%:*}" --subject "${p%%:*}" --role "${p##*:}" >/dev/null
done
today=$(date -u +%F)
next_year=$(date -u -d '+1 year' +%F)
last_year=$(date -u -d '-1 year' +%F)
dl --as admin users create researcher --display-name "Rosa Researcher" --organisation "University of Leeds" \
  --roles researcher --scheme "ONS Accredited Researcher" --training-date "$last_year" --expiry-date "$next_year" >/dev/null
for u in steward:data_steward approver:project_approver dpo:dpo dpo2:dpo; do
  dl --as admin users create "${u%%:*}" --display-name "${u%%:*}" --organisation "Trust" --roles "${u##*:}" >/dev/null
done
dl --as admin users list
dl --as admin floor show

bold "Safe data: pupil identifiers become keyed pseudonyms (UPNs, reversible only under dual control)"
dl --as admin domains create --domain pupil --kind upn --reversible=true --description "Pupils by UPN"

bold "The data team registers what the lab holds: datasets, typed schemas, per-column treatment"
for d in census attendance ks4; do
  dl --as steward catalogue create --file "services/catalogue/examples/$d.yaml" >/dev/null
done
dl --as steward catalogue create --file services/ingestion/dfe_schemas/england_ks4final.json >/dev/null
dl --as researcher catalogue search disadvantage

bold "A synthetic trust of $SCHOOLS schools, written as the CSV extracts a school MIS exports"
"$BIN/datalab-synth" --out "$DATALAB_VAR/demo/trust" --schools "$SCHOOLS" --seed 2026 \
  --bad_rows_fraction 0.002 --overwrite >/dev/null
head -3 "$DATALAB_VAR/demo/trust/schools.csv"

bold "Uploads: streamed, validated, pseudonymised, committed atomically (bad rows quarantined)"
for f in "$DATALAB_VAR"/demo/trust/census/*.csv; do
  urn=$(basename "$f" .csv)
  for d in census attendance ks4; do
    [ -f "$DATALAB_VAR/demo/trust/$d/$urn.csv" ] || continue
    dl --as steward upload "$DATALAB_VAR/demo/trust/$d/$urn.csv" --dataset "datasets/$d" \
      --school "$urn" --policy quarantine --quiet >/dev/null
  done
done
DFE_DIR=${DATALAB_SHARED_DIR:-$ROOT/../shared}/data/dfe
if [ -f "$DFE_DIR/england_ks4final.csv" ]; then
  say "And a public DfE file, trust-wide: the 2019 KS4 school performance tables"
  dl --as steward upload "$DFE_DIR/england_ks4final.csv" --dataset datasets/dfe_ks4_final_2019 \
    --school trust-wide --extract-date 2020-01-23 --source DFE_OPEN_DATA --policy quarantine --quiet >/dev/null
fi
dl --as steward jobs list | head -8
dl --as researcher catalogue quality census

bold "Safe projects: a researcher proposes, the data access panel approves"
cat > "$DATALAB_VAR/demo/project.yaml" <<YAML
project_id: disadvantage_gap
project:
  title: Disadvantage gap across the trust
  purpose: How wide is the disadvantage gap in Attainment 8 at each school, and is persistent absence concentrated in pupils with SEN support?
  lawful_basis: "Art. 6(1)(e) public task"
  dpia_reference: DPIA-2026-014
  ethics_reference: ETH-2026-031
  datasets:
    - dataset: datasets/census
      columns: [disadvantaged, fsm, sen_provision, ethnicity, nc_year, term]
    - dataset: datasets/attendance
      columns: [term, sessions_possible, sessions_authorised_absence, sessions_unauthorised_absence]
    - dataset: datasets/ks4
      columns: [ks4_year, attainment8, progress8]
  dates: {start_date: "$today", end_date: "$next_year"}
  disclosure: {threshold: 10, rounding_base: 5, dominance_n: 2, dominance_k_percent: 90, p_percent: 10}
YAML
dl --as researcher projects create --file "$DATALAB_VAR/demo/project.yaml" >/dev/null
refused --as researcher projects approve projects/disadvantage_gap
dl --as approver projects approve projects/disadvantage_gap --comment "DPIA and ethics seen"
dl --as researcher projects show projects/disadvantage_gap

bold "Safe outputs: aggregate queries, every cell checked before it leaves"
P=projects/disadvantage_gap
say "The disadvantage gap in Attainment 8, school by school:"
dl --as researcher query --project $P --purpose "demo: disadvantage gap" \
  "SELECT census._school, disadvantaged, COUNT(DISTINCT pupil) AS pupils, AVG(attainment8) AS a8
   FROM census JOIN ks4 USING (pupil) WHERE term = 'autumn 2025'
   GROUP BY census._school, disadvantaged"
say ""
say "Persistent absence (10% or more of sessions missed) by SEN provision:"
dl --as researcher query --project $P --purpose "demo: absence and SEN" \
  "SELECT sen_provision, COUNT(DISTINCT pupil) AS pupils,
     PROPORTION((sessions_authorised_absence + sessions_unauthorised_absence) * 10 >= sessions_possible)
       AS persistent_absence
   FROM census JOIN attendance USING (pupil, term) GROUP BY sen_provision"
say ""
say "Progress 8 by ethnicity group (small groups are suppressed, not shown):"
dl --as researcher query --project $P --purpose "demo: progress by ethnicity" \
  "SELECT ethnicity, COUNT(DISTINCT pupil) AS pupils, AVG(progress8) AS p8
   FROM census JOIN ks4 USING (pupil) WHERE term = 'autumn 2025' GROUP BY ethnicity"
dl --as researcher history --project $P

bold "What the lab refuses"
refused --as researcher query --project projects/disadvantage_gap "SELECT * FROM census"
refused --as researcher query --project projects/disadvantage_gap "SELECT upn, COUNT(*) FROM census GROUP BY upn"
refused --as admin query --project projects/disadvantage_gap "SELECT COUNT(*) FROM census"
refused --as researcher query --project projects/disadvantage_gap "SELECT postcode, COUNT(*) FROM census GROUP BY postcode"

bold "The DPO: every decision is in a tamper-evident log anyone can verify"
dl --as dpo audit search --subject users/researcher --limit 8
dl --as dpo audit report --project projects/disadvantage_gap
dl --as dpo audit export --out "$DATALAB_VAR/demo/audit-export.jsonl"
dl audit verify --export "$DATALAB_VAR/demo/audit-export.jsonl"
dl --as dpo audit head

bold "Done. The lab is still running: scripts/lab.sh status | scripts/lab.sh down"
