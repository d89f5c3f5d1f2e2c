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
