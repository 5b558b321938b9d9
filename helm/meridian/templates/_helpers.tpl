{{/* vim: set filetype=mustache: */}}

{{/* Chart name, overridable. */}}
{{- define "meridian.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Fully qualified app name, at most 42 chars: the follower StatefulSet name
(+"-followers") must stay <= 52 chars so its controller-revision-hash label
fits in 63, and "-followers-headless" (19 chars) must fit a DNS label.
*/}}
{{- define "meridian.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 42 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 42 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 42 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "meridian.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Common labels. */}}
{{- define "meridian.labels" -}}
helm.sh/chart: {{ include "meridian.chart" . }}
{{ include "meridian.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels shared by leader and followers (used by the read service). */}}
{{- define "meridian.selectorLabels" -}}
app.kubernetes.io/name: {{ include "meridian.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Object names. */}}
{{- define "meridian.leaderName" -}}
{{- printf "%s-leader" (include "meridian.fullname" .) -}}
{{- end -}}
{{- define "meridian.followersName" -}}
{{- printf "%s-followers" (include "meridian.fullname" .) -}}
{{- end -}}
{{- define "meridian.readServiceName" -}}
{{- printf "%s-read" (include "meridian.fullname" .) -}}
{{- end -}}
{{- define "meridian.configMapName" -}}
{{- printf "%s-config" (include "meridian.fullname" .) -}}
{{- end -}}
{{- define "meridian.secretName" -}}
{{- if .Values.auth.existingSecret -}}
{{- .Values.auth.existingSecret -}}
{{- else -}}
{{- printf "%s-auth" (include "meridian.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* DNS name followers use to reach the leader (write) service. */}}
{{- define "meridian.leaderHost" -}}
{{- printf "%s.%s.svc" (include "meridian.leaderName" .) .Release.Namespace -}}
{{- end -}}

{{- define "meridian.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/*
One TOML value: booleans and integers bare, everything else a quoted string.
(YAML numbers arrive as float64; whole numbers are printed as integers so
536870912 does not become 5.36870912e+08.)
*/}}
{{- define "meridian.tomlValue" -}}
{{- if kindIs "bool" . -}}
{{- . -}}
{{- else if kindIs "float64" . -}}
{{- if eq (float64 (int64 .)) . -}}{{- int64 . -}}{{- else -}}{{- . -}}{{- end -}}
{{- else if or (kindIs "int" .) (kindIs "int64" .) -}}
{{- . -}}
{{- else -}}
{{- . | toString | quote -}}
{{- end -}}
{{- end -}}

{{/*
Pod template shared by the leader and follower StatefulSets.
Call with (dict "root" $ "component" "leader|follower" "role" .Values.leader|.Values.followers "args" (list ...)).
*/}}
{{- define "meridian.podTemplate" -}}
{{- $root := .root -}}
{{- $role := .role -}}
metadata:
  labels:
    {{- include "meridian.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
  annotations:
    checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
    {{- with $role.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  {{- with $root.Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  # SIGTERM -> meridian flushes and fsyncs the AOF, then exits.
  terminationGracePeriodSeconds: {{ $root.Values.terminationGracePeriodSeconds }}
  securityContext:
    {{- toYaml $root.Values.podSecurityContext | nindent 4 }}
  containers:
    - name: meridian
      image: {{ include "meridian.image" $root | quote }}
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      args:
        {{- range .args }}
        - {{ . | toString | quote }}
        {{- end }}
        {{- range $role.extraArgs }}
        - {{ . | toString | quote }}
        {{- end }}
      {{- if or $root.Values.auth.enabled $root.Values.extraEnv }}
      env:
        {{- if $root.Values.auth.enabled }}
        - name: MERIDIAN_REQUIREPASS
          valueFrom:
            secretKeyRef:
              name: {{ include "meridian.secretName" $root }}
              key: {{ $root.Values.auth.existingSecretKey }}
        {{- end }}
        {{- with $root.Values.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- end }}
      ports:
        - name: meridian
          containerPort: {{ $root.Values.port }}
          protocol: TCP
      startupProbe:
        tcpSocket:
          port: meridian
        periodSeconds: {{ $root.Values.probes.startup.periodSeconds }}
        failureThreshold: {{ $root.Values.probes.startup.failureThreshold }}
        timeoutSeconds: {{ $root.Values.probes.startup.timeoutSeconds }}
      livenessProbe:
        tcpSocket:
          port: meridian
        periodSeconds: {{ $root.Values.probes.liveness.periodSeconds }}
        failureThreshold: {{ $root.Values.probes.liveness.failureThreshold }}
        timeoutSeconds: {{ $root.Values.probes.liveness.timeoutSeconds }}
      readinessProbe:
        # The slim image has no redis-cli: speak RESP over bash's /dev/tcp.
        # AUTH first when a password is configured, then HEALTHZ -> +OK.
        exec:
          command:
            - bash
            - -c
            - |
              export LC_ALL=C
              exec 3<>/dev/tcp/127.0.0.1/{{ $root.Values.port }} || exit 1
              if [ -n "${MERIDIAN_REQUIREPASS:-}" ]; then
                printf '*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n' "${#MERIDIAN_REQUIREPASS}" "$MERIDIAN_REQUIREPASS" >&3
                IFS= read -r -t 3 line <&3 || exit 1
                case "$line" in +OK*) ;; *) exit 1 ;; esac
              fi
              printf '*1\r\n$7\r\nHEALTHZ\r\n' >&3
              IFS= read -r -t 3 line <&3 || exit 1
              case "$line" in +OK*) exit 0 ;; *) echo "$line"; exit 1 ;; esac
        periodSeconds: {{ $root.Values.probes.readiness.periodSeconds }}
        failureThreshold: {{ $root.Values.probes.readiness.failureThreshold }}
        timeoutSeconds: {{ $root.Values.probes.readiness.timeoutSeconds }}
      resources:
        {{- toYaml $role.resources | nindent 8 }}
      securityContext:
        {{- toYaml $root.Values.securityContext | nindent 8 }}
      volumeMounts:
        - name: data
          mountPath: /data
        - name: config
          mountPath: /etc/meridian
          readOnly: true
        - name: tmp
          mountPath: /tmp
  volumes:
    - name: config
      configMap:
        name: {{ include "meridian.configMapName" $root }}
    - name: tmp
      emptyDir: {}
    {{- if not $root.Values.persistence.enabled }}
    - name: data
      emptyDir: {}
    {{- end }}
  {{- with $role.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $role.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $role.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/* volumeClaimTemplates for /data, when persistence is enabled. */}}
{{- define "meridian.volumeClaimTemplates" -}}
{{- if .Values.persistence.enabled -}}
volumeClaimTemplates:
  - metadata:
      name: data
      labels:
        {{- include "meridian.selectorLabels" . | nindent 8 }}
    spec:
      accessModes:
        {{- toYaml .Values.persistence.accessModes | nindent 8 }}
      {{- with .Values.persistence.storageClass }}
      storageClassName: {{ . | quote }}
      {{- end }}
      resources:
        requests:
          storage: {{ .Values.persistence.size | quote }}
{{- end }}
{{- end -}}
