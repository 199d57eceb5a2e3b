{{/* Names and labels. */}}
{{- define "stageplane.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "stageplane.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "stageplane.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "stageplane.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Selector labels of one component: call with (dict "root" $ "component" "api"). */}}
{{- define "stageplane.selectorLabels" -}}
app.kubernetes.io/name: {{ include "stageplane.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "stageplane.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "stageplane.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "stageplane.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The Secret the env refers to: the user's existingSecret or the chart's own. */}}
{{- define "stageplane.secretName" -}}
{{- default (include "stageplane.fullname" .) .Values.existingSecret }}
{{- end }}

{{/* The Secret holding the Temporal certificates, and its keys. */}}
{{- define "stageplane.temporalTlsSecretName" -}}
{{- default (include "stageplane.secretName" .) .Values.temporal.tls.existingSecret }}
{{- end }}

{{- define "stageplane.temporalTlsKeys" -}}
{{- $t := .Values.temporal.tls }}
{{- if or $t.existingSecret .Values.existingSecret }}
{{- /* A Secret of the user's: the keys they named. */}}
{{- dict "clientCert" $t.keys.clientCert "clientKey" $t.keys.clientKey "serverCaCert" $t.keys.serverCaCert | toJson }}
{{- else }}
{{- /* The chart's Secret holds only the files it was given. */}}
{{- dict "clientCert" (ternary "TEMPORAL_TLS_CLIENT_CERT" "" (ne $t.clientCert "")) "clientKey" (ternary "TEMPORAL_TLS_CLIENT_KEY" "" (ne $t.clientKey "")) "serverCaCert" (ternary "TEMPORAL_TLS_SERVER_CA_CERT" "" (ne $t.serverCaCert "")) | toJson }}
{{- end }}
{{- end }}

{{/*
Checks of the values that cannot render a working release; each message names the value.
Included by every template that needs them, so `helm template` fails before writing anything.
*/}}
{{- define "stageplane.validate" -}}
{{- if not .Values.temporal.address }}
{{- fail "temporal.address is required (TEMPORAL_ADDRESS, host:port of the Temporal frontend or Temporal Cloud endpoint)" }}
{{- end }}
{{- if not (regexMatch "^[^\\s:/]+:[0-9]{1,5}$" .Values.temporal.address) }}
{{- fail (printf "temporal.address must be host:port (TEMPORAL_ADDRESS), got %q" .Values.temporal.address) }}
{{- end }}
{{- if not (has .Values.secretsBackend (list "local" "aws")) }}
{{- fail (printf "secretsBackend must be local or aws (SECRETS_BACKEND), got %q" .Values.secretsBackend) }}
{{- end }}
{{- if and (eq .Values.secretsBackend "aws") (not .Values.aws.region) }}
{{- fail "aws.region is required when secretsBackend is aws (AWS_REGION)" }}
{{- end }}
{{- if not .Values.existingSecret }}
{{- if not .Values.database.url }}
{{- fail "database.url is required (DATABASE_URL, postgres://user:password@host:5432/db), or set existingSecret to a Secret with DATABASE_URL" }}
{{- end }}
{{- if not (regexMatch "^postgres(ql)?://" .Values.database.url) }}
{{- fail "database.url must be a postgres:// or postgresql:// URL (DATABASE_URL)" }}
{{- end }}
{{- if lt (len .Values.secrets.jwtSecret) 32 }}
{{- fail "secrets.jwtSecret is required and must be at least 32 characters (JWT_SECRET; openssl rand -base64 48), or set existingSecret" }}
{{- end }}
{{- if and (eq .Values.secretsBackend "local") (not .Values.secrets.encryptionKey) }}
{{- fail "secrets.encryptionKey is required with secretsBackend local (ENCRYPTION_KEY; openssl rand -base64 32), or set existingSecret" }}
{{- end }}
{{- if and .Values.secrets.webhookSecret (lt (len .Values.secrets.webhookSecret) 16) }}
{{- fail "secrets.webhookSecret must be at least 16 characters (WEBHOOK_SECRET)" }}
{{- end }}
{{- end }}
{{- $t := .Values.temporal.tls }}
{{- if and $t.enabled (not $t.existingSecret) (not .Values.existingSecret) }}
{{- if ne (empty $t.clientCert) (empty $t.clientKey) }}
{{- fail "temporal.tls.clientCert and temporal.tls.clientKey go together (mTLS): set both or neither" }}
{{- end }}
{{- end }}
{{- if and $t.enabled (or $t.existingSecret .Values.existingSecret) (ne (empty $t.keys.clientCert) (empty $t.keys.clientKey)) }}
{{- fail "temporal.tls.keys.clientCert and temporal.tls.keys.clientKey go together (mTLS): set both or neither" }}
{{- end }}
{{- if and .Values.api.autoscaling.enabled (gt (int .Values.api.autoscaling.minReplicas) (int .Values.api.autoscaling.maxReplicas)) }}
{{- fail "api.autoscaling.minReplicas must not exceed api.autoscaling.maxReplicas" }}
{{- end }}
{{- if and .Values.oidc.issuer (not .Values.oidc.audience) }}
{{- fail "oidc.audience is required with oidc.issuer (the tokens' aud)" }}
{{- end }}
{{- end }}

{{/* The environment both Deployments share (README, Configuration). */}}
{{- define "stageplane.env" -}}
- name: NODE_ENV
  value: production
- name: DATA_DIR
  value: /var/lib/stageplane
- name: DATABASE_POOL_SIZE
  value: {{ .Values.database.poolSize | quote }}
- name: TEMPORAL_ADDRESS
  value: {{ .Values.temporal.address | quote }}
- name: TEMPORAL_NAMESPACE
  value: {{ .Values.temporal.namespace | quote }}
- name: TEMPORAL_TASK_QUEUE
  value: {{ .Values.temporal.taskQueue | quote }}
- name: SECRETS_BACKEND
  value: {{ .Values.secretsBackend | quote }}
{{- with .Values.aws.region }}
- name: AWS_REGION
  value: {{ . | quote }}
{{- end }}
{{- with .Values.aws.endpointUrl }}
- name: AWS_ENDPOINT_URL
  value: {{ . | quote }}
{{- end }}
{{- with .Values.aws.secretPrefix }}
- name: AWS_SECRET_PREFIX
  value: {{ . | quote }}
{{- end }}
{{- with .Values.publicUrl }}
- name: PUBLIC_URL
  value: {{ . | quote }}
{{- end }}
- name: LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: MAX_BODY_BYTES
  value: {{ .Values.maxBodyBytes | int64 | quote }}
- name: RESPONSE_CACHE_ENTRIES
  value: {{ .Values.responseCacheEntries | int64 | quote }}
- name: WEBHOOK_TIMEOUT_SECONDS
  value: {{ .Values.webhookTimeoutSeconds | int64 | quote }}
- name: SECRET_ROTATION_INTERVAL_SECONDS
  value: {{ .Values.secretRotationIntervalSeconds | int64 | quote }}
- name: NOTIFY_RETRY_HOURS
  value: {{ .Values.notifyRetryHours | quote }}
- name: NOTIFY_TIMEOUT_SECONDS
  value: {{ .Values.notifyTimeoutSeconds | quote }}
{{- with .Values.oidc }}
{{- range $name, $value := dict "OIDC_ISSUER" .issuer "OIDC_AUDIENCE" .audience "OIDC_ROLES_CLAIM" .rolesClaim "OIDC_GROUPS_CLAIM" .groupsClaim "OIDC_CONSOLE_CLIENT_ID" .consoleClientId }}
{{- if $value }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- with .Values.outbound.allowCidrs }}
- name: OUTBOUND_ALLOW_CIDRS
  value: {{ . | quote }}
{{- end }}
{{- with .Values.outbound.denyCidrs }}
- name: OUTBOUND_DENY_CIDRS
  value: {{ . | quote }}
{{- end }}
{{- $secret := include "stageplane.secretName" . }}
{{- $own := not .Values.existingSecret }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef: { name: {{ $secret }}, key: DATABASE_URL }
- name: JWT_SECRET
  valueFrom:
    secretKeyRef: { name: {{ $secret }}, key: JWT_SECRET }
{{- if or (not $own) .Values.secrets.encryptionKey }}
- name: ENCRYPTION_KEY
  valueFrom:
    {{- /* Optional in an existingSecret with the aws backend, which needs no key. */}}
    secretKeyRef: { name: {{ $secret }}, key: ENCRYPTION_KEY{{ if eq .Values.secretsBackend "aws" }}, optional: true{{ end }} }
{{- end }}
{{- if or (not $own) .Values.secrets.webhookSecret }}
- name: WEBHOOK_SECRET
  valueFrom:
    secretKeyRef: { name: {{ $secret }}, key: WEBHOOK_SECRET, optional: true }
{{- end }}
{{- if or (not $own) .Values.temporal.apiKey }}
- name: TEMPORAL_API_KEY
  valueFrom:
    secretKeyRef: { name: {{ $secret }}, key: TEMPORAL_API_KEY, optional: true }
{{- end }}
{{- $t := .Values.temporal.tls }}
{{- if $t.enabled }}
{{- $keys := include "stageplane.temporalTlsKeys" . | fromJson }}
- name: TEMPORAL_TLS
  value: "true"
{{- with $t.serverName }}
- name: TEMPORAL_TLS_SERVER_NAME
  value: {{ . | quote }}
{{- end }}
{{- if $keys.clientCert }}
- name: TEMPORAL_TLS_CLIENT_CERT_PATH
  value: {{ printf "%s/client.crt" $t.mountPath | quote }}
- name: TEMPORAL_TLS_CLIENT_KEY_PATH
  value: {{ printf "%s/client.key" $t.mountPath | quote }}
{{- end }}
{{- if $keys.serverCaCert }}
- name: TEMPORAL_TLS_SERVER_CA_CERT_PATH
  value: {{ printf "%s/server-ca.crt" $t.mountPath | quote }}
{{- end }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Volumes: writable scratch space (the root filesystem is read-only) and the Temporal certificates. */}}
{{- define "stageplane.volumes" -}}
- name: tmp
  emptyDir: {}
- name: data
  emptyDir: {}
{{- $t := .Values.temporal.tls }}
{{- if $t.enabled }}
{{- $keys := include "stageplane.temporalTlsKeys" . | fromJson }}
{{- if or $keys.clientCert $keys.serverCaCert }}
- name: temporal-tls
  secret:
    secretName: {{ include "stageplane.temporalTlsSecretName" . }}
    defaultMode: 0440
    # Only the certificate files, under fixed names: the Secret may hold JWT_SECRET and others.
    items:
      {{- if $keys.clientCert }}
      - { key: {{ $keys.clientCert }}, path: client.crt }
      - { key: {{ $keys.clientKey }}, path: client.key }
      {{- end }}
      {{- if $keys.serverCaCert }}
      - { key: {{ $keys.serverCaCert }}, path: server-ca.crt }
      {{- end }}
{{- end }}
{{- end }}
{{- end }}

{{- define "stageplane.volumeMounts" -}}
# tsx caches compiled sources in the temporary directory.
- name: tmp
  mountPath: /tmp
# DATA_DIR: the worker caches its workflow bundle here.
- name: data
  mountPath: /var/lib/stageplane
{{- $t := .Values.temporal.tls }}
{{- if $t.enabled }}
{{- $keys := include "stageplane.temporalTlsKeys" . | fromJson }}
{{- if or $keys.clientCert $keys.serverCaCert }}
- name: temporal-tls
  mountPath: {{ $t.mountPath }}
  readOnly: true
{{- end }}
{{- end }}
{{- end }}
