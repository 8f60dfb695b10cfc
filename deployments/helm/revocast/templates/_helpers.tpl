{{/* Names and labels. */}}
{{- define "revocast.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "revocast.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "revocast.frontSelector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: front
{{- end -}}

{{- define "revocast.image" -}}
{{ printf "%s:%s" .Values.image.repository .Values.image.tag }}
{{- end -}}

{{/* The Secret holding the front's NATS credentials (front.creds). */}}
{{- define "revocast.frontCredsSecret" -}}
{{- .Values.front.existingCredsSecret | default (printf "%s-front" (include "revocast.fullname" .)) -}}
{{- end -}}

{{- define "revocast.configSecret" -}}
{{- .Values.config.existingSecret | default (printf "%s-config" (include "revocast.fullname" .)) -}}
{{- end -}}

{{/*
The NATS connection flags every component passes: the URL, the stream replicas and the CA. Files live under
/etc/revocast/nats (credentials) and /etc/revocast/nats-ca.
*/}}
{{- define "revocast.natsArgs" -}}
- --nats-url={{ .Values.nats.url }}
- --replicas={{ .Values.nats.replicas }}
{{- if .Values.nats.caConfigMap }}
- --nats-tls-ca=/etc/revocast/nats-ca/ca.pem
{{- end }}
{{- end -}}

{{/* The container security context: the image's non-root user, nothing writable, no privileges. */}}
{{- define "revocast.securityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
capabilities: {drop: [ALL]}
seccompProfile: {type: RuntimeDefault}
{{- end -}}

{{- define "revocast.caVolume" -}}
{{- if .Values.nats.caConfigMap -}}
- name: revocast-nats-ca
  configMap:
    name: {{ .Values.nats.caConfigMap }}
    items: [{key: ca.pem, path: ca.pem}]
{{- end -}}
{{- end -}}

{{- define "revocast.caMount" -}}
{{- if .Values.nats.caConfigMap -}}
- {name: revocast-nats-ca, mountPath: /etc/revocast/nats-ca, readOnly: true}
{{- end -}}
{{- end -}}

{{/*
Refuse to render what would not start: missing credentials, placeholder hashes.
*/}}
{{- define "revocast.check" -}}
{{- if and (not .Values.front.natsCreds) (not .Values.front.existingCredsSecret) -}}
{{- fail "front.natsCreds: the front's NATS credentials are missing: --set-file front.natsCreds=/secure/revocast-nats/front.creds (revocast nats-init writes it), or front.existingCredsSecret" -}}
{{- end -}}
{{- if and (not .Values.config.existingSecret) (contains "REPLACE-ME" (toYaml .Values.config.file)) -}}
{{- fail "config.file: replace every REPLACE-ME with a hash (revocast hash-secret --generate, or printf %s 'the-secret' | revocast hash-secret), or name config.existingSecret" -}}
{{- end -}}
{{- if and .Values.init.enabled (not .Values.init.operatorCreds) (not .Values.init.existingCredsSecret) -}}
{{- fail "init.enabled: --set-file init.operatorCreds=/secure/revocast-nats/operator.creds, or init.existingCredsSecret" -}}
{{- end -}}
{{- end -}}
