{{/* Common labels for every object of a service. */}}
{{- define "mlpipe.labels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/part-of: mlpipe
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{- define "mlpipe.selector" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{- define "mlpipe.image" -}}
{{ printf "%s/%s:%s" .root.Values.image.registry .name .root.Values.image.tag }}
{{- end -}}

{{/* The environment every service reads (libs/config): addresses by value, credentials by Secret. */}}
{{- define "mlpipe.env" -}}
- name: NATS_URL
  value: {{ .root.Values.nats.url | quote }}
- name: BUS_NAMESPACE
  value: {{ .root.Values.nats.namespace | default "mlpipe" | quote }}
{{- include "mlpipe.natsCredentials" (dict "root" .root "user" .name) }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef: { name: {{ .root.Values.database.existingSecret }}, key: DATABASE_URL }
- name: STORE_KIND
  value: s3
- name: S3_ENDPOINT
  value: {{ .root.Values.objectStore.endpoint | quote }}
- name: S3_BUCKET
  value: {{ .root.Values.objectStore.bucket | quote }}
- name: S3_REGION
  value: {{ .root.Values.objectStore.region | default "us-east-1" | quote }}
- name: S3_ACCESS_KEY
  valueFrom:
    secretKeyRef: { name: {{ .root.Values.objectStore.existingSecret }}, key: S3_ACCESS_KEY }
- name: S3_SECRET_KEY
  valueFrom:
    secretKeyRef: { name: {{ .root.Values.objectStore.existingSecret }}, key: S3_SECRET_KEY }
- name: LOG_LEVEL
  value: {{ .root.Values.logLevel | default "info" | quote }}
{{- with .root.Values.telemetry }}{{ if .otlpEndpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ .otlpEndpoint | quote }}
{{- end }}{{ end }}
{{- end -}}


{{/* NATS_USER and NATS_PASSWORD of one NATS user (a service's name is its user's), the password from the users' Secret. */}}
{{- define "mlpipe.natsCredentials" -}}
{{- if .root.Values.nats.auth.enabled }}
- name: NATS_USER
  value: {{ .user | quote }}
- name: NATS_PASSWORD
  valueFrom:
    secretKeyRef: { name: {{ .root.Values.nats.auth.existingSecret | default "mlpipe-nats-users" }}, key: {{ .user }} }
{{- end }}
{{- end -}}


{{/* A number as the config reads it: whole numbers without an exponent (YAML gives Helm 2592000000 as a float). */}}
{{- define "mlpipe.number" -}}
{{- if eq (float64 .) (floor .) }}{{ int64 . }}{{ else }}{{ . }}{{ end }}
{{- end -}}

{{/* The Secret with UI_SESSION_SECRET: the operator's, or the one the chart makes (secrets.yaml). */}}
{{- define "mlpipe.uiSessionSecret" -}}
{{- .Values.auth.ui.sessionSecretName | default (printf "%s-ui-session" .Release.Name) }}
{{- end -}}

{{/* The Secret the bootstrap Job writes the first admin token into (key "token"). */}}
{{- define "mlpipe.adminTokenSecret" -}}
{{- printf "%s-admin-token" .Release.Name }}
{{- end -}}

{{/* The Secret with the gateway's registry token (key "token"): the operator's, the bootstrap Job's, or none. */}}
{{- define "mlpipe.gatewayTokenSecret" -}}
{{- if .Values.auth.gateway.registryTokenSecret }}{{ .Values.auth.gateway.registryTokenSecret }}
{{- else if .Values.auth.bootstrap.enabled }}{{ printf "%s-gateway-registry-token" .Release.Name }}
{{- else if eq .Values.auth.anonymousRole "none" }}{{ fail "auth.gateway.registryTokenSecret is required when auth.bootstrap.enabled is false and auth.anonymousRole is none: the gateway needs a viewer token to read models from the registry" }}
{{- end }}
{{- end -}}

{{/*
The settings each service takes from the chart's blocks (auth, streams, predictions, quotas,
rateLimits, inputLimits), by the names libs/config reads. One place maps values to env names, so a
block changes exactly the services that read it.
*/}}
{{- define "mlpipe.settingsEnv" -}}
{{- $v := .root.Values }}
{{- $env := dict }}
{{- range $stream, $l := $v.streams }}
{{- $_ := set $env (printf "STREAM_%s_MAX_AGE_MS" (upper $stream)) $l.maxAgeMs }}
{{- $_ := set $env (printf "STREAM_%s_MAX_BYTES" (upper $stream)) $l.maxBytes }}
{{- end }}
{{- if or (eq .name "registry") (eq .name "ui") }}
{{- $_ := set $env "AUTH_ANONYMOUS_ROLE" $v.auth.anonymousRole }}
{{- end }}
{{- if eq .name "registry" }}
{{- with $v.auth.oidc }}{{ if or .jwksUrl .issuer .audience }}
{{- $_ := set $env "OIDC_JWKS_URL" (required "auth.oidc.jwksUrl is required with auth.oidc.issuer or audience (all three or none)" .jwksUrl) }}
{{- $_ := set $env "OIDC_ISSUER" (required "auth.oidc.issuer is required with auth.oidc.jwksUrl or audience (all three or none)" .issuer) }}
{{- $_ := set $env "OIDC_AUDIENCE" (required "auth.oidc.audience is required with auth.oidc.jwksUrl or issuer (all three or none)" .audience) }}
{{- $_ := set $env "OIDC_ROLE_CLAIM" .roleClaim }}
{{- $_ := set $env "OIDC_NAME_CLAIM" .nameClaim }}
{{- end }}{{ end }}
{{- end }}
{{- if eq .name "ui" }}
{{- $tls := and $v.ingress.enabled $v.ingress.tls.enabled }}
{{- $_ := set $env "UI_COOKIE_SECURE" (ternary $v.auth.ui.cookieSecure $tls (hasKey $v.auth.ui "cookieSecure")) }}
{{- $_ := set $env "UI_FEEDBACK_RATE_MAX" $v.rateLimits.feedbackPerWindow }}
{{- $_ := set $env "UI_JOBS_RATE_MAX" $v.rateLimits.jobsPerWindow }}
{{- $_ := set $env "UI_RATE_WINDOW_MS" $v.rateLimits.windowMs }}
{{- $_ := set $env "UI_SSE_MAX_CONNECTIONS" $v.rateLimits.sseMaxConnections }}
{{- end }}
{{- if eq .name "gateway" }}
{{- $_ := set $env "GATEWAY_AUTH" $v.auth.gateway.auth }}
{{- $_ := set $env "PREDICTION_SAMPLE_SHARE" $v.predictions.sampleShare }}
{{- $_ := set $env "PREDICTION_RETENTION_MS" $v.predictions.retentionMs }}
{{- $_ := set $env "PREDICTION_RETENTION_SWEEP_MS" $v.predictions.retentionSweepMs }}
{{- $_ := set $env "GATEWAY_MAX_IMAGE_BYTES" $v.inputLimits.gateway.maxImageBytes }}
{{- $_ := set $env "GATEWAY_MAX_IMAGE_PIXELS" $v.inputLimits.gateway.maxImagePixels }}
{{- $_ := set $env "GATEWAY_MAX_DECODE_MB" $v.inputLimits.gateway.maxDecodeMb }}
{{- end }}
{{- if eq .name "orchestrator" }}
{{- $q := $v.quotas }}
{{- $_ := set $env "QUOTA_MAX_EPOCHS" $q.maxEpochs }}
{{- $_ := set $env "QUOTA_MAX_REPLICAS" $q.maxReplicas }}
{{- $_ := set $env "QUOTA_MAX_BATCH_SIZE" $q.maxBatchSize }}
{{- $_ := set $env "QUOTA_MAX_TRAIN_SUBSET" $q.maxTrainSubset }}
{{- $_ := set $env "QUOTA_MAX_SWEEP_TRIALS" $q.maxSweepTrials }}
{{- $_ := set $env "QUOTA_MAX_ACTIVE_JOBS" $q.maxActiveJobs }}
{{- end }}
{{- if eq .name "dataset-watcher" }}
{{- $_ := set $env "DATA_MAX_BATCH_BYTES" $v.inputLimits.data.maxBatchBytes }}
{{- $_ := set $env "DATA_MAX_BATCH_SAMPLES" $v.inputLimits.data.maxBatchSamples }}
{{- $_ := set $env "DATA_MAX_CSV_ROWS" $v.inputLimits.data.maxCsvRows }}
{{- end }}
{{- range $k, $val := $env }}
- name: {{ $k }}
  {{- if or (kindIs "string" $val) (kindIs "bool" $val) }}
  value: {{ $val | toString | quote }}
  {{- else }}
  value: {{ include "mlpipe.number" $val | quote }}
  {{- end }}
{{- end }}
{{- if eq .name "ui" }}
- name: UI_SESSION_SECRET
  valueFrom:
    secretKeyRef: { name: {{ include "mlpipe.uiSessionSecret" .root }}, key: UI_SESSION_SECRET }
{{- end }}
{{- if eq .name "gateway" }}{{ with include "mlpipe.gatewayTokenSecret" .root }}
- name: REGISTRY_TOKEN
  valueFrom:
    secretKeyRef: { name: {{ . }}, key: token }
{{- end }}{{ end }}
{{- end -}}

{{/* The tokens the bootstrap Job makes, as JSON: the first admin's, and the gateway's unless the operator gives one. */}}
{{- define "mlpipe.bootstrapTokens" -}}
{{- $tokens := list (dict "secret" (include "mlpipe.adminTokenSecret" .) "name" .Values.auth.bootstrap.adminName "role" "admin") }}
{{- if not .Values.auth.gateway.registryTokenSecret }}
{{- $tokens = append $tokens (dict "secret" (include "mlpipe.gatewayTokenSecret" .) "name" "gateway" "role" "viewer") }}
{{- end }}
{{- toJson $tokens }}
{{- end -}}

{{/* The names of the Secrets the bootstrap Job writes, as a JSON array (the only Secrets its Role allows). */}}
{{- define "mlpipe.bootstrapSecrets" -}}
{{- $names := list }}
{{- range include "mlpipe.bootstrapTokens" . | fromJsonArray }}{{ $names = append $names .secret }}{{ end }}
{{- toJson $names }}
{{- end -}}
