{{/*
The sidecar for your workloads. Both helpers take a context with .Values set to this chart's values: in this
chart "$", in a chart that depends on this one (dict "Values" .Values.revocast).

"revocast.sidecar" is one item of a pod's containers list:
  containers:
    - name: api
      ...
    {{- include "revocast.sidecar" (dict "Values" .Values.revocast) | nindent 8 }}

"revocast.sidecarVolumes" are the volumes it mounts, items of the pod's volumes list:
  volumes:
    {{- include "revocast.sidecarVolumes" (dict "Values" .Values.revocast) | nindent 8 }}

The sidecar's id is the pod's name, and its NATS credentials are the file named after it in a projected volume
of one Secret per id (sidecar.ids, sidecar.credsSecretPrefix): a StatefulSet's pods <name>-0, <name>-1, ...
*/}}
{{- define "revocast.sidecar" -}}
{{- $s := .Values.sidecar -}}
{{- $scheme := ternary "HTTPS" "HTTP" (not (empty $s.tls.secretName)) -}}
- name: revocast
  image: {{ printf "%s:%s" .Values.image.repository .Values.image.tag }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  args:
    - subscriber
    # The pod's IP: the kubelet probes /readyz there, Prometheus scrapes /metrics there.
    - --subscriber-addr=0.0.0.0:{{ $s.port }}
    - --nats-creds=/etc/revocast/nats/$(REVOCAST_ID).creds
    - --cache-capacity={{ int64 $s.cacheCapacity }}
    - --stale-policy={{ $s.stalePolicy }}
    {{- include "revocast.natsArgs" . | nindent 4 }}
    {{- if $s.grpc.enabled }}
    - --grpc-addr=127.0.0.1:{{ $s.grpc.port }}
    {{- end }}
    {{- if $s.tls.secretName }}
    - --tls-cert=/etc/revocast/tls/tls.crt
    - --tls-key=/etc/revocast/tls/tls.key
    {{- end }}
    {{- if $s.tls.clientCASecret }}
    - --tls-client-ca=/etc/revocast/client-ca/ca.crt
    {{- end }}
    {{- range $iss, $realm := $s.issuerRealms }}
    - --issuer-realm={{ $iss }}={{ $realm }}
    {{- end }}
    {{- with $s.extraArgs }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  env:
    # The sidecar's id, which its NATS credentials are minted for: unique among running sidecars.
    - name: REVOCAST_ID
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
    - {name: GOMEMLIMIT, value: {{ $s.goMemLimit | quote }}}
  ports:
    - {name: revocast-http, containerPort: {{ $s.port }}}
  # The pod gets traffic only once the sidecar has replayed the stream and is fresh. No liveness probe: a
  # sidecar whose capacity is exhausted says so on /healthz, and a restart would replay into the same capacity.
  readinessProbe:
    httpGet: {path: /readyz, port: revocast-http, scheme: {{ $scheme }}}
    periodSeconds: 2
    failureThreshold: 2
  resources:
    {{- toYaml $s.resources | nindent 4 }}
  securityContext:
    {{- include "revocast.securityContext" . | nindent 4 }}
  volumeMounts:
    - {name: revocast-nats, mountPath: /etc/revocast/nats, readOnly: true}
    {{- include "revocast.caMount" . | nindent 4 }}
    {{- if $s.tls.secretName }}
    - {name: revocast-tls, mountPath: /etc/revocast/tls, readOnly: true}
    {{- end }}
    {{- if $s.tls.clientCASecret }}
    - {name: revocast-client-ca, mountPath: /etc/revocast/client-ca, readOnly: true}
    {{- end }}
{{- end -}}

{{- define "revocast.sidecarVolumes" -}}
{{- $s := .Values.sidecar -}}
{{- if not $s.ids -}}
{{- fail "sidecar.ids: list the pods' names (a StatefulSet's <name>-0, <name>-1, ...), each with its credentials Secret" -}}
{{- end -}}
- name: revocast-nats
  projected:
    defaultMode: 0444
    sources:
      {{- range $s.ids }}
      - secret:
          name: {{ printf "%s%s" $s.credsSecretPrefix . }}
          items: [{key: nats.creds, path: {{ printf "%s.creds" . }}}]
      {{- end }}
{{- include "revocast.caVolume" . | nindent 0 }}
{{- if $s.tls.secretName }}
- name: revocast-tls
  secret: {secretName: {{ $s.tls.secretName }}, defaultMode: 0444}
{{- end }}
{{- if $s.tls.clientCASecret }}
- name: revocast-client-ca
  secret: {secretName: {{ $s.tls.clientCASecret }}, items: [{key: ca.crt, path: ca.crt}]}
{{- end }}
{{- end -}}
