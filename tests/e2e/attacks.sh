#!/usr/bin/env bash
# Attack suites against a running lab. Each prints
#   attack <name>: attempts N, successes S
# and the suite fails if any attack succeeds (S > 0) or the lab stops
# serving. Statistical attacks (differencing, trackers, small cells, class
# disclosure, high-cardinality GROUP BY) are in sdc_attacks.py, which judges
# every released cell against the true synthetic data.
. "$(dirname "$0")/lib.sh"
e2e_init attacks
lab_up
setup_data 5 attack
REL=""  # a release of alice's, for cross-project reads

attack_result() {  # attack_result NAME ATTEMPTS SUCCESSES
  echo "attack $1: attempts $2, successes $3"
  if [ "$3" -eq 0 ] && [ "$2" -gt 0 ]; then pass "attack $1 (0 of $2 succeeded)"
  elif [ "$2" -eq 0 ]; then fail "attack $1" "no attempt could be made"
  else fail "attack $1" "$3 of $2 attempts succeeded"; fi
}

healthy() { "$BIN/datalab" health --timeout-ms 2000 >/dev/null 2>&1; }

# ---- statistical attacks ---------------------------------------------------------
run dl query --project attack "SELECT disadvantaged, COUNT(DISTINCT pupil) AS n FROM census GROUP BY disadvantaged" --as alice
REL=$(echo "$OUT" | sed -n 's/^release: //p')
log "statistical attacks (sdc_attacks.py)"
python3 "$E2E_DIR/sdc_attacks.py" "$BIN" "$TRUST" attack | tee "$VAR/sdc.out"
while read -r _ name _ a _ s; do
  name=${name%:}; a=${a%,}
  [ "$s" -eq 0 ] && [ "$a" -gt 0 ] && pass "attack $name (0 of $a succeeded)" || fail "attack $name" "$s of $a attempts succeeded"
done < <(grep '^attack ' "$VAR/sdc.out")
grep -q '^attack ' "$VAR/sdc.out" || fail "statistical attacks" "sdc_attacks.py printed no results"

# ---- averaging against DP mode ------------------------------------------------------
PROJECT_EXTRA="    epsilon_budget: 1.0
    epsilon_per_query: 0.1"
project_file "$VAR/dp.yaml" dpproj "    - dataset: datasets/census
      columns: [disadvantaged, term]" "$PROJECT_EXTRA"
run dl projects create --file "$VAR/dp.yaml" --as alice
if [ "$RC" -ne 0 ]; then
  skip "attack averaging_dp" "a project with an epsilon budget cannot be configured: $(echo "$ERR" | tail -1)"
else
  dl projects approve dpproj --as approver >/dev/null 2>&1
  run dl projects show dpproj --as alice --json
  attempts=0; released=0; vals=()
  for i in $(seq 1 25); do
    attempts=$((attempts + 1))
    run dl query --project dpproj "SELECT COUNT(DISTINCT pupil) AS n FROM census WHERE disadvantaged = TRUE" --as alice --csv
    if [ "$RC" -eq 0 ]; then released=$((released + 1)); vals+=("$(echo "$OUT" | tr -d '\r' | sed -n 2p)"); fi
  done
  # Budget 1.0 at 0.1 per query: at most 10 answers; more would let an
  # attacker average the noise away.
  succ=0; [ $released -gt 10 ] && succ=$((released - 10))
  echo "    released $released of $attempts identical DP queries; values: ${vals[*]:0:12}"
  attack_result averaging_dp "$attempts" "$succ"
fi

# ---- SQL parser abuse and injection ------------------------------------------------------
BIGQ="SELECT COUNT(*) FROM census WHERE $(python3 -c "print(' OR '.join(\"ethnicity = 'WBRI'\" for _ in range(6000)))")"
HOSTILE=(
  "SELECT * FROM census"
  "SELECT upn FROM census"
  "SELECT pupil, COUNT(*) FROM census GROUP BY pupil"
  "SELECT forename, COUNT(*) FROM census GROUP BY forename"
  "SELECT COUNT(*) FROM census; DROP TABLE census"
  "DROP TABLE census"
  "DELETE FROM census"
  "UPDATE census SET fsm = TRUE"
  "INSERT INTO census VALUES (1)"
  "SELECT COUNT(*) FROM census /* */ UNION SELECT upn FROM census"
  "SELECT COUNT(*), upn -- hidden
 FROM census GROUP BY upn"
  "SELECT COUNT(*) FROM census WHERE ethnicity = '' OR 1=1; --'"
  "SELECT MAX(attainment8) FROM ks4"
  "SELECT MIN(progress8) FROM ks4"
  "ＳＥＬＥＣＴ COUNT(*) FROM census"
  "SELECT COUNT(*) FROM cen​sus"
  "SELECT COUNT(*) FROM census WHERE u\u0070n = 'x'"
  "SELECT COUNT(*) FROM \"census\" JOIN \"census\" USING (pupil)"
  "SELECT COUNT(*) FROM census WHERE $(printf '(%.0s' $(seq 1 3000))1=1$(printf ')%.0s' $(seq 1 3000))"
  "SELECT COUNT(*) FROM ../../catalogue"
  "SELECT COUNT(*) FROM census WHERE term = 'x' ${BIGQ:0:0}"
  "$BIGQ"
)
MUST_REFUSE=(1 1 1 1 1 1 1 1 1 1 1 0 1 1 0 1 1 1 1 1 0 0)
attempts=0; succ=0
for idx in "${!HOSTILE[@]}"; do
  q=${HOSTILE[$idx]}
  attempts=$((attempts + 1))
  printf '%s' "$q" >"$VAR/q.sql"
  run dl query --project attack --file "$VAR/q.sql" --as alice --csv
  if [ "${MUST_REFUSE[$idx]}" -eq 1 ] && [ "$RC" -eq 0 ]; then
    succ=$((succ + 1)); echo "    accepted: ${q:0:80}"
  fi
  # Whatever is accepted must never carry identifiers or row-level values.
  if [ "$RC" -eq 0 ] && echo "$OUT" | grep -Eq '[A-Z][0-9]{12}'; then
    succ=$((succ + 1)); echo "    identifiers in output: ${q:0:80}"
  fi
  [ "$RC" -eq 124 ] && { succ=$((succ + 1)); echo "    hung: ${q:0:80}"; }
done
for p in "attack' OR '1'='1" "../attack" "attack/../other" "projects/attack%00"; do
  attempts=$((attempts + 1))
  run dl query --project "$p" "SELECT COUNT(*) FROM census" --as alice
  [ "$RC" -eq 0 ] && { succ=$((succ + 1)); echo "    project name accepted: $p"; }
done
healthy || { succ=$((succ + 1)); echo "    the lab stopped serving"; }
run dl query --project attack "SELECT disadvantaged, COUNT(DISTINCT pupil) AS n FROM census GROUP BY disadvantaged" --as alice
[ "$RC" -eq 0 ] || { succ=$((succ + 1)); echo "    census no longer answers after the abuse (exit $RC)"; }
attack_result sql_parser_abuse "$attempts" "$succ"

# ---- JWT attacks through the real gateway -------------------------------------------------
JWT=$VAR/jwt; mkdir -p "$JWT"
openssl ec -in "$VAR/dev-idp/signing.pem" -pubout -out "$JWT/idp-pub.pem" 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out "$JWT/evil.pem" 2>/dev/null
cat >"$JWT/mint.py" <<'PY'
import base64, hashlib, hmac, json, subprocess, sys, time
def b64(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
kind, iss, aud, keydir = sys.argv[1:5]
now = int(time.time())
claims = {"iss": iss, "aud": aud, "sub": "mallory", "roles": ["admin", "dpo", "researcher"],
          "iat": now, "nbf": now, "exp": now + 600, "jti": "e2e-" + kind}
hdr = {"alg": "ES256", "typ": "JWT", "kid": "dev-1"}
key = f"{keydir}/../dev-idp/signing.pem"
if kind == "expired": claims.update(iat=now - 7200, nbf=now - 7200, exp=now - 3600)
if kind == "not_yet": claims.update(nbf=now + 3600)
if kind == "wrong_aud": claims["aud"] = "someone-else"
if kind == "wrong_iss": claims["iss"] = "https://evil.example"
if kind == "no_exp": claims.pop("exp")
if kind == "forged_kid": hdr["kid"] = "evil-1"; key = f"{keydir}/evil.pem"
if kind == "own_key_same_kid": key = f"{keydir}/evil.pem"
if kind == "kid_path": hdr["kid"] = "../../secrets/assertion.key"; key = f"{keydir}/evil.pem"
if kind == "jku": hdr["jku"] = "https://evil.example/jwks.json"; key = f"{keydir}/evil.pem"
signing_input = None
def sign_es256(data, keyfile):
    der = subprocess.run(["openssl", "dgst", "-sha256", "-sign", keyfile], input=data,
                         capture_output=True, check=True).stdout
    # DER SEQUENCE { INTEGER r, INTEGER s } -> raw r||s
    i = 2 if der[1] < 0x80 else 3
    assert der[i] == 2; rl = der[i + 1]; r = der[i + 2:i + 2 + rl]; i += 2 + rl
    assert der[i] == 2; sl = der[i + 1]; s = der[i + 2:i + 2 + sl]
    return r[-32:].rjust(32, b"\0") + s[-32:].rjust(32, b"\0")
if kind in ("none", "none_upper", "hs256_pubkey", "hs256_jwks"):
    hdr = {"alg": {"none": "none", "none_upper": "NONE"}.get(kind, "HS256"), "typ": "JWT", "kid": "dev-1"}
h = b64(json.dumps(hdr).encode()); p = b64(json.dumps(claims).encode())
si = f"{h}.{p}".encode()
if kind in ("none", "none_upper"): sig = ""
elif kind == "hs256_pubkey": sig = b64(hmac.new(open(f"{keydir}/idp-pub.pem", "rb").read(), si, hashlib.sha256).digest())
elif kind == "hs256_jwks": sig = b64(hmac.new(open(f"{keydir}/../dev-idp/jwks.json", "rb").read(), si, hashlib.sha256).digest())
elif kind == "stripped": sig = ""
elif kind == "tampered":
    good = b64(sign_es256(si, key))
    claims["roles"] = ["admin"]; p2 = b64(json.dumps(claims).encode())
    print(f"{h}.{p2}.{good}"); sys.exit()
else: sig = b64(sign_es256(si, key))
print(f"{h}.{p}.{sig}")
PY
attempts=0; succ=0
# Control: a correctly minted token must work, or the attacks prove nothing.
python3 "$JWT/mint.py" valid "$DATALAB_OIDC_ISSUER" "$DATALAB_OIDC_AUDIENCE" "$JWT" >"$JWT/valid" 2>"$JWT/err"
run dl whoami --token-file "$JWT/valid"
[ "$RC" -eq 0 ] && pass "jwt control: a correctly signed token is accepted" || { fail "jwt control token" "exit $RC"; last_output; }
for kind in none none_upper hs256_pubkey hs256_jwks expired not_yet wrong_aud wrong_iss no_exp forged_kid own_key_same_kid kid_path jku stripped tampered; do
  attempts=$((attempts + 1))
  if ! python3 "$JWT/mint.py" $kind "$DATALAB_OIDC_ISSUER" "$DATALAB_OIDC_AUDIENCE" "$JWT" >"$JWT/$kind" 2>"$JWT/err"; then
    echo "    could not mint $kind: $(tail -1 "$JWT/err")"; continue
  fi
  run dl whoami --token-file "$JWT/$kind"
  if [ "$RC" -eq 0 ]; then succ=$((succ + 1)); echo "    accepted: $kind"; continue; fi
  run probe --target "$DATALAB_GATEWAY" --token-file "$JWT/$kind" --deadline-ms 5000 \
    --method /datalab.catalogue.v1.CatalogueService/ListUsers --json '{}'
  if [ "$RC" -eq 0 ]; then succ=$((succ + 1)); echo "    accepted by the catalogue route: $kind"; fi
done
# The gateway's own identity assertion must not be accepted from outside.
attempts=$((attempts + 1))
run probe --target "$DATALAB_GATEWAY" --token-file "$JWT/valid" --deadline-ms 5000 \
  --metadata "x-datalab-assertion=forged" --metadata "x-datalab-principal=admin" \
  --method /datalab.catalogue.v1.CatalogueService/ListUsers --json '{}'
# mallory's token carries admin in its roles claim legitimately signed; a
# forged header must not add anything: any answer but OK/PERMISSION is odd.
echo "$OUT" | head -1 | grep -q "code=OK\|code=PERMISSION_DENIED\|code=UNAUTHENTICATED" || { succ=$((succ + 1)); echo "    header injection: $(echo "$OUT" | head -1)"; }
attack_result jwt "$attempts" "$succ"

# ---- cross-project access ------------------------------------------------------------------
project_file "$VAR/mal.yaml" malproj "    - dataset: datasets/census
      columns: [disadvantaged, term]"
dl projects create --file "$VAR/mal.yaml" --as mallory >/dev/null 2>&1
dl projects approve malproj --as approver >/dev/null 2>&1
attempts=0; succ=0
try() { attempts=$((attempts + 1)); run "$@"; [ "$RC" -eq 0 ] && { succ=$((succ + 1)); echo "    allowed: ${*:1:6}"; }; return 0; }
try dl query --project attack "SELECT COUNT(*) FROM census" --as mallory
attempts=$((attempts + 1)); run dl history --project attack --as mallory --json
[ "$RC" -eq 0 ] && echo "$OUT" | grep -q '"release": "projects/' && { succ=$((succ + 1)); echo "    mallory reads alice's query history in a project she is not a member of"; }
[ -n "$REL" ] && try dl release show "$REL" --as mallory
[ -n "$REL" ] && try dl release export "$REL" --as mallory
try dl query --project malproj "SELECT ethnicity, COUNT(*) FROM census GROUP BY ethnicity" --as mallory
try dl query --project malproj "SELECT AVG(attainment8) FROM ks4" --as mallory
try dl projects add-member attack mallory --as mallory
try probe --target "$DATALAB_GATEWAY" --token-file "$VAR/tokens/mallory" \
  --method /datalab.query.v1.QueryService/RunQuery \
  --json '{"project":"projects/attack","sql":"SELECT COUNT(*) FROM census"}'
# Internal methods are not for users, even through the gateway.
try probe --target "$DATALAB_GATEWAY" --token-file "$VAR/tokens/admin" \
  --method /datalab.query.v1.QueryService/ListStoredVersions --json '{"dataset":"datasets/census"}'
try probe --target "$DATALAB_GATEWAY" --token-file "$VAR/tokens/steward" \
  --method /datalab.pseudonymisation.v1.PseudonymisationService/Pseudonymise \
  --json '{"domain":"domains/pupil","identifiers":["A123456789012"]}'
attack_result cross_project "$attempts" "$succ"

# ---- mass assignment of protected fields --------------------------------------------------
attempts=0; succ=0
project_file "$VAR/ma1.yaml" massassign "    - dataset: datasets/census
      columns: [disadvantaged, term]"
python3 - "$VAR/ma1.yaml" <<'PY'
import sys
p = sys.argv[1]; s = open(p).read()
s = s.replace("project:\n", "project:\n  state: APPROVED\n  approved_by: users/mallory\n  members: [users/mallory]\n  lead: users/mallory\n", 1)
s = s.replace("threshold: 10", "threshold: 1").replace("rounding_base: 5", "rounding_base: 1")
open(p, "w").write(s)
PY
attempts=$((attempts + 1))
run dl projects create --file "$VAR/ma1.yaml" --as mallory --json
if [ "$RC" -eq 0 ]; then
  st=$(echo "$OUT" | python3 -c "import json,sys; d=json.load(sys.stdin); print(d.get('state'), d.get('approved_by',''), d.get('disclosure',{}).get('threshold',0))")
  case "$st" in PROPOSED\ *) ;; *) succ=$((succ + 1)); echo "    project created as: $st";; esac
  echo "$st" | grep -q "users/mallory" && { succ=$((succ + 1)); echo "    approved_by taken from the request"; }
  thr=$(echo "$st" | awk '{print $NF}')
  [ "${thr:-10}" -lt 10 ] 2>/dev/null && [ "$thr" != 0 ] && { succ=$((succ + 1)); echo "    threshold below the trust floor accepted: $thr"; }
  run dl projects approve massassign --as approver
  run dl projects show massassign --as approver --json
  thr=$(echo "$OUT" | python3 -c "import json,sys; print(json.load(sys.stdin).get('disclosure',{}).get('threshold',0))" 2>/dev/null)
  [ "${thr:-10}" -lt 10 ] 2>/dev/null && [ "$thr" != 0 ] && { succ=$((succ + 1)); echo "    approved with threshold $thr below the floor"; }
fi
attempts=$((attempts + 1)); run dl users update mallory --roles admin,dpo --as mallory
[ "$RC" -eq 0 ] && { succ=$((succ + 1)); echo "    researcher changed their own roles"; }
attempts=$((attempts + 1)); run dl users update alice --roles admin --as steward
[ "$RC" -eq 0 ] && { succ=$((succ + 1)); echo "    steward changed a user's roles"; }
attempts=$((attempts + 1)); run dl users update mallory --scheme X --training-date "$(date -u +%Y-%m-%d)" --expiry-date "$(date -u -d '+10 years' +%Y-%m-%d)" --as mallory
[ "$RC" -eq 0 ] && { succ=$((succ + 1)); echo "    researcher extended their own accreditation"; }
attempts=$((attempts + 1)); run dl floor set --threshold 1 --as mallory
[ "$RC" -eq 0 ] && { succ=$((succ + 1)); echo "    researcher lowered the trust floor"; }
attempts=$((attempts + 1)); run dl floor set --threshold 2 --rounding-base 1 --as admin
[ "$RC" -eq 0 ] && { run dl floor show --as admin; echo "$OUT" | grep -Eq '^threshold +[2-9]$' && echo "    note: admin may lower the floor below the design default 10: $(echo "$OUT" | head -1)"; dl floor set --threshold 10 --rounding-base 5 --as admin >/dev/null 2>&1; }
attempts=$((attempts + 1)); run dl users create eve --display-name Eve --roles admin --as mallory
[ "$RC" -eq 0 ] && { succ=$((succ + 1)); echo "    researcher created an admin user"; }
attempts=$((attempts + 1)); run dl projects approve malproj --as mallory
[ "$RC" -eq 0 ] && { succ=$((succ + 1)); echo "    researcher approved a project"; }
attack_result mass_assignment "$attempts" "$succ"

# ---- oversized messages ------------------------------------------------------------------------
attempts=0; succ=0
for m in "/datalab.query.v1.QueryService/RunQuery" "/datalab.catalogue.v1.CatalogueService/CreateDataset"; do
  attempts=$((attempts + 1))
  run probe --target "$DATALAB_GATEWAY" --token-file "$VAR/tokens/alice" --deadline-ms 60000 \
    --pad-bytes 104857600 --method "$m" --json '{}'
  code=$(echo "$OUT" | sed -n 's/^code=\([A-Z_]*\).*/\1/p')
  echo "    100 MB to $m: $(echo "$OUT" | head -1 | cut -c1-160)"
  case "$code" in RESOURCE_EXHAUSTED|INVALID_ARGUMENT|PERMISSION_DENIED|UNAVAILABLE|CANCELLED) ;; *) succ=$((succ + 1));; esac
done
attempts=$((attempts + 1))
head -c 104857600 /dev/zero | tr '\0' 'a' >"$VAR/big.sql"
run dl query --project attack --file "$VAR/big.sql" --as alice
[ "$RC" -eq 0 ] && { succ=$((succ + 1)); echo "    a 100 MB query was accepted"; }
rm -f "$VAR/big.sql"
healthy || { succ=$((succ + 1)); echo "    the lab stopped serving after oversized messages"; }
attack_result oversized_messages "$attempts" "$succ"

healthy && pass "the lab still serves after every attack" || fail "lab health after attacks" "not SERVING"
e2e_finish
