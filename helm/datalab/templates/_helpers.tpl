{{/*
Names, labels and the service graph shared by every template.
The graph below is the ONE place the allowed service-to-service edges are
written down: NetworkPolicies (ingress and egress), flags (--*_target) and the
docs all follow it.
*/}}

{{- define "datalab.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "datalab.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else if contains (include "datalab.name" .) .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "datalab.name" .) | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "datalab.namespace" -}}
{{- default .Release.Namespace .Values.namespace.name -}}
{{- end -}}

{{/* Labels every object carries. */}}
{{- define "datalab.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "datalab.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: datalab
{{- end -}}

{{/* Selector labels of the whole release (no component). */}}
{{- define "datalab.instanceSelector" -}}
app.kubernetes.io/name: {{ include "datalab.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Selector labels of one component: call with (dict "root" $ "svc" "audit"). */}}
{{- define "datalab.selector" -}}
{{ include "datalab.instanceSelector" .root }}
app.kubernetes.io/component: {{ .svc }}
{{- end -}}

{{- define "datalab.componentLabels" -}}
{{ include "datalab.labels" .root }}
app.kubernetes.io/component: {{ .svc }}
{{- end -}}

{{/* Service (DNS) name of a component. */}}
{{- define "datalab.svcName" -}}
{{- printf "%s-%s" (include "datalab.fullname" .root) .svc -}}
{{- end -}}

{{/* host:port other services dial to reach a component. */}}
{{- define "datalab.target" -}}
{{- printf "%s-%s:%d" (include "datalab.fullname" .root) .svc (int .root.Values.ports.grpc) -}}
{{- end -}}

{{/* The five stateful services, in start/upgrade order (callees first). */}}
{{- define "datalab.statefulServices" -}}
audit catalogue query pseudonymisation ingestion
{{- end -}}

{{/*
The service graph: for each component, the components it calls.
Every service also calls audit (gateway included); audit calls nobody.
*/}}
{{- define "datalab.graph" -}}
gateway: [catalogue, ingestion, pseudonymisation, query, audit]
ingestion: [catalogue, pseudonymisation, query, audit]
query: [catalogue, audit]
pseudonymisation: [query, audit]
catalogue: [audit]
audit: []
{{- end -}}

{{/* Components that call .svc, as a YAML list. */}}
{{- define "datalab.callers" -}}
{{- $graph := include "datalab.graph" .root | fromYaml -}}
{{- $callers := list -}}
{{- range $from := list "gateway" "catalogue" "ingestion" "pseudonymisation" "query" "audit" -}}
{{- if has $.svc (get $graph $from) -}}
{{- $callers = append $callers $from -}}
{{- end -}}
{{- end -}}
{{- toYaml $callers -}}
{{- end -}}

{{- define "datalab.image" -}}
{{- $img := .Values.image -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $img.repository $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $img.repository (default .Chart.AppVersion $img.tag) -}}
{{- end -}}
{{- end -}}

{{/* Name of the TLS Secret of a component (cert-manager or existing). */}}
{{- define "datalab.tlsSecret" -}}
{{- $existing := get .root.Values.tls.existingSecrets .svc | default "" -}}
{{- if and $existing (not .root.Values.tls.certManager.enabled) -}}
{{- $existing -}}
{{- else -}}
{{- printf "%s-%s-tls" (include "datalab.fullname" .root) .svc -}}
{{- end -}}
{{- end -}}

{{- define "datalab.secretName" -}}
{{- $s := get .root.Values.secrets .key -}}
{{- default (printf "%s-%s" (include "datalab.fullname" .root) .default) $s.name -}}
{{- end -}}

{{- define "datalab.jwksConfigMap" -}}
{{- if .Values.oidc.jwks.inline -}}
{{- printf "%s-jwks" (include "datalab.fullname" .) -}}
{{- else -}}
{{- required "oidc.jwks.configMap or oidc.jwks.inline is required (the identity provider's public keys)" .Values.oidc.jwks.configMap -}}
{{- end -}}
{{- end -}}

{{/* Restricted Pod Security: pod level. */}}
{{- define "datalab.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Restricted Pod Security: container level. */}}
{{- define "datalab.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Flags every service takes (paths only: secrets are files, never args). */}}
{{- define "datalab.commonArgs" -}}
{{- $p := .root.Values.ports -}}
- --listen={{ .root.Values.listenHost }}:{{ $p.grpc }}
- --metrics_listen={{ .root.Values.listenHost }}:{{ $p.metrics }}
- --health_listen={{ .root.Values.listenHost }}:{{ $p.health }}
- --tls_cert=/etc/datalab/tls/tls.crt
- --tls_key=/etc/datalab/tls/tls.key
- --tls_ca=/etc/datalab/tls/ca.crt
- --data_dir=/var/lib/datalab
- --log_level={{ .root.Values.logLevel }}
{{- if ne .svc "gateway" }}
- --assertion_public_key=/etc/datalab/assertion/assertion.pub
{{- end }}
{{- if ne .svc "audit" }}
- --audit_target={{ include "datalab.target" (dict "root" .root "svc" "audit") }}
{{- end }}
{{- end -}}

{{- define "datalab.ports" -}}
- name: grpc
  containerPort: {{ .Values.ports.grpc }}
  protocol: TCP
- name: metrics
  containerPort: {{ .Values.ports.metrics }}
  protocol: TCP
- name: health
  containerPort: {{ .Values.ports.health }}
  protocol: TCP
{{- end -}}

{{/* Native gRPC probes on the plaintext health port. */}}
{{- define "datalab.probes" -}}
{{- $p := .Values.probes -}}
startupProbe:
  grpc:
    port: {{ .Values.ports.health }}
  periodSeconds: 5
  failureThreshold: {{ $p.startupFailureThreshold }}
readinessProbe:
  grpc:
    port: {{ .Values.ports.health }}
  periodSeconds: {{ $p.periodSeconds }}
  timeoutSeconds: {{ $p.timeoutSeconds }}
  failureThreshold: 3
livenessProbe:
  grpc:
    port: {{ .Values.ports.health }}
  periodSeconds: {{ $p.periodSeconds }}
  timeoutSeconds: {{ $p.timeoutSeconds }}
  failureThreshold: {{ $p.livenessFailureThreshold }}
{{- end -}}

{{/* Volumes every pod has: TLS, the gateway's public assertion key, /tmp. */}}
{{- define "datalab.commonVolumes" -}}
- name: tls
  secret:
    secretName: {{ include "datalab.tlsSecret" . }}
    defaultMode: 0440
    items:
      - {key: tls.crt, path: tls.crt}
      - {key: tls.key, path: tls.key}
      - {key: ca.crt, path: ca.crt}
- name: tmp
  emptyDir:
    medium: Memory
    sizeLimit: 16Mi
{{- if ne .svc "gateway" }}
- name: assertion
  secret:
    secretName: {{ include "datalab.secretName" (dict "root" .root "key" "assertion" "default" "assertion") }}
    defaultMode: 0440
    items:
      - {key: assertion.pub, path: assertion.pub}
{{- end }}
{{- end -}}

{{- define "datalab.commonMounts" -}}
- name: tls
  mountPath: /etc/datalab/tls
  readOnly: true
- name: tmp
  mountPath: /tmp
- name: data
  mountPath: /var/lib/datalab
{{- if ne .svc "gateway" }}
- name: assertion
  mountPath: /etc/datalab/assertion
  readOnly: true
{{- end }}
{{- end -}}
