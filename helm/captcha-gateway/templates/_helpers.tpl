{{/*
Names. Kubernetes names are at most 63 characters (DNS labels), so every name is truncated.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "captcha-gateway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of the release's resources: fullnameOverride, or "<release>-<chart>", or the
release name alone when it already contains the chart name.
*/}}
{{- define "captcha-gateway.fullname" -}}
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

{{/* The admin Service's name: the full name cut to 57 characters, then "-admin". */}}
{{- define "captcha-gateway.adminFullname" -}}
{{- printf "%s-admin" (include "captcha-gateway.fullname" . | trunc 57 | trimSuffix "-") }}
{{- end }}

{{/* The Grafana dashboard ConfigMap's name: the full name cut to 53 characters, then "-dashboard". */}}
{{- define "captcha-gateway.dashboardFullname" -}}
{{- printf "%s-dashboard" (include "captcha-gateway.fullname" . | trunc 53 | trimSuffix "-") }}
{{- end }}

{{/* "chart-version" for the helm.sh/chart label. */}}
{{- define "captcha-gateway.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every resource. */}}
{{- define "captcha-gateway.labels" -}}
helm.sh/chart: {{ include "captcha-gateway.chart" . }}
{{ include "captcha-gateway.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Labels that select the gateway pods; immutable once a Deployment exists. */}}
{{- define "captcha-gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "captcha-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The ServiceAccount the pods run as. */}}
{{- define "captcha-gateway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "captcha-gateway.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret the environment variables come from: existingSecret, or the chart's own. */}}
{{- define "captcha-gateway.secretName" -}}
{{- default (include "captcha-gateway.fullname" .) .Values.secret.existingSecret }}
{{- end }}

{{/*
The image reference: [registry/]repository@digest, or [registry/]repository:tag (tag defaults to
appVersion). global.imageRegistry, set by a parent chart, wins over image.registry.
*/}}
{{- define "captcha-gateway.image" -}}
{{- $registry := default .Values.image.registry .Values.global.imageRegistry | trimSuffix "/" }}
{{- $repository := .Values.image.repository }}
{{- if $registry }}
{{- $repository = printf "%s/%s" $registry $repository }}
{{- end }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repository (default .Chart.AppVersion .Values.image.tag | toString) }}
{{- end }}
{{- end }}

{{/* Pull secrets: global.imagePullSecrets (names or {name: ...}) then imagePullSecrets. */}}
{{- define "captcha-gateway.imagePullSecrets" -}}
{{- range .Values.global.imagePullSecrets }}
{{- if kindIs "string" . }}
- name: {{ . }}
{{- else }}
- name: {{ .name }}
{{- end }}
{{- end }}
{{- with .Values.imagePullSecrets }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
A probe of the gateway container: the probe's values without `enabled`, and GET `path` on the
admin port unless the values bring their own handler. Called with (dict "probe" ... "path" ...).
*/}}
{{- define "captcha-gateway.probe" -}}
{{- $probe := omit .probe "enabled" }}
{{- if not (or (hasKey $probe "httpGet") (hasKey $probe "tcpSocket") (hasKey $probe "exec") (hasKey $probe "grpc")) }}
{{- $_ := set $probe "httpGet" (dict "path" .path "port" "admin") }}
{{- end }}
{{- toYaml $probe }}
{{- end }}

{{/*
The config keys the gateway reads only at start: a reload keeps their running value, so a change
of one of them must roll the pods. The same list as keysNeedingRestart in gateway/pipeline.ts.
*/}}
{{- define "captcha-gateway.startKeys" -}}
listen
admin.host
admin.port
store
throttle.max_clients
throttle.max_throttled
{{- end }}

{{/* The part of `config:` the gateway reads only at start, as YAML (what onConfigChange: reload checksums). */}}
{{- define "captcha-gateway.startConfig" -}}
{{- $found := dict }}
{{- range $path := include "captcha-gateway.startKeys" . | splitList "\n" }}
{{- $value := $.Values.config }}
{{- range $key := splitList "." $path }}
{{- if kindIs "map" $value }}
{{- $value = get $value $key }}
{{- else }}
{{- $value = "" }}
{{- end }}
{{- end }}
{{- $_ := set $found $path $value }}
{{- end }}
{{- toYaml $found }}
{{- end }}

{{/* onConfigChange resolved: "reload" or "roll" (auto: reload with the memory store). */}}
{{- define "captcha-gateway.onConfigChange" -}}
{{- if eq .Values.onConfigChange "auto" }}
{{- $store := dig "store" "type" "memory" .Values.config | toString | lower }}
{{- ternary "reload" "roll" (eq $store "memory") }}
{{- else }}
{{- .Values.onConfigChange }}
{{- end }}
{{- end }}

{{/* Where the ConfigMap is mounted in the pods, and the config file in it. */}}
{{- define "captcha-gateway.configDir" -}}
/etc/captcha-gateway
{{- end }}
{{- define "captcha-gateway.configFile" -}}
{{ include "captcha-gateway.configDir" . }}/config.yaml
{{- end }}

{{/* The gateway's ports, from the config (the gateway's defaults when not set). */}}
{{- define "captcha-gateway.httpPort" -}}
{{- dig "listen" "port" 8080 .Values.config | int }}
{{- end }}
{{- define "captcha-gateway.adminPort" -}}
{{- dig "admin" "port" 9090 .Values.config | int }}
{{- end }}

{{/*
Environment variable -> key in `secret` (values). The chart's Secret holds each set value under
the variable's name; an existingSecret too, unless secret.existingSecretKeys names another key.
*/}}
{{- define "captcha-gateway.secretKeys" -}}
ADMIN_TOKEN: adminToken
CAPTCHA_SECRET: captchaSecret
CAPTCHA_SITE_KEY: captchaSiteKey
CSRF_SECRET: csrfSecret
REDIS_PASSWORD: redisPassword
REDIS_URL: redisUrl
{{- end }}

{{/* Names of the variables extraEnv sets. */}}
{{- define "captcha-gateway.extraEnvNames" -}}
{{- range .Values.extraEnv }}
{{ .name }}
{{- end }}
{{- end }}

{{/*
The environment of the gateway and of the config check: each Secret variable that has a value
(every one of them with an existingSecret, optional there), unless extraEnv sets it; then extraEnv.
*/}}
{{- define "captcha-gateway.env" -}}
{{- $extraNames := include "captcha-gateway.extraEnvNames" . | splitList "\n" }}
{{- $secretName := include "captcha-gateway.secretName" . }}
{{- range $env, $key := include "captcha-gateway.secretKeys" . | fromYaml }}
{{- if and (not (has $env $extraNames)) (or $.Values.secret.existingSecret (index $.Values.secret $key)) }}
- name: {{ $env }}
  valueFrom:
    secretKeyRef:
      name: {{ $secretName }}
      {{- if $.Values.secret.existingSecret }}
      key: {{ index $.Values.secret.existingSecretKeys $key | default $env }}
      optional: true
      {{- else }}
      key: {{ $env }}
      {{- end }}
{{- end }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Whole seconds (rounded up) of a gateway duration: "250ms", "30s", "15m", "1h" or a number of
seconds. Empty when the value is not one (e.g. an ${ENV} reference, unknown until the pod runs).
*/}}
{{- define "captcha-gateway.durationSeconds" -}}
{{- $text := toString . | trim }}
{{- if regexMatch `^[0-9]+(\.[0-9]+)?\s*(ms|s|m|h)?$` $text }}
{{- $number := regexFind `^[0-9]+(\.[0-9]+)?` $text | float64 }}
{{- $unit := regexFind `(ms|s|m|h)$` $text | default "s" }}
{{- $scale := get (dict "ms" 0.001 "s" 1.0 "m" 60.0 "h" 3600.0) $unit }}
{{- mulf $number $scale | ceil | int }}
{{- end }}
{{- end }}

{{/*
terminationGracePeriodSeconds: Kubernetes counts it from the start of preStop, so it must cover
the preStop pause plus the gateway's drain, or in-flight requests are killed mid-drain.
*/}}
{{- define "captcha-gateway.terminationGracePeriodSeconds" -}}
{{- $preStop := int .Values.lifecycle.preStopSleepSeconds }}
{{- $drainValue := dig "listen" "drain_timeout" "25s" .Values.config }}
{{- $drain := include "captcha-gateway.durationSeconds" $drainValue }}
{{- $grace := .Values.terminationGracePeriodSeconds }}
{{- if eq (toString $grace) "" }}
{{- if eq $drain "" }}
{{- fail (printf "config.listen.drain_timeout %q is not a duration the chart can read, so it cannot derive the pod's grace period: set terminationGracePeriodSeconds (more than lifecycle.preStopSleepSeconds + the drain in seconds)" (toString $drainValue)) }}
{{- end }}
{{- add $preStop (int $drain) 5 }}
{{- else }}
{{- if and (ne $drain "") (le (int $grace) (add $preStop (int $drain) | int)) }}
{{- fail (printf "terminationGracePeriodSeconds %d must be more than lifecycle.preStopSleepSeconds (%d) + config.listen.drain_timeout (%ds): Kubernetes would kill pods in the middle of their drain. Raise it or leave it empty to derive it" (int $grace) $preStop (int $drain)) }}
{{- end }}
{{- int $grace }}
{{- end }}
{{- end }}

{{/*
Checks that fail rendering with a message that says the fix. Included by the Deployment.
*/}}
{{- define "captcha-gateway.validate" -}}
{{- $pods := int .Values.replicaCount }}
{{- $what := printf "replicaCount is %d" $pods }}
{{- if .Values.autoscaling.enabled }}
{{- $pods = int .Values.autoscaling.maxReplicas }}
{{- $what = printf "autoscaling.maxReplicas is %d" $pods }}
{{- if gt (int .Values.autoscaling.minReplicas) $pods }}
{{- fail (printf "autoscaling.minReplicas (%d) is more than autoscaling.maxReplicas (%d)" (int .Values.autoscaling.minReplicas) $pods) }}
{{- end }}
{{- if and (eq (int .Values.autoscaling.targetCPUUtilizationPercentage) 0) (eq (int .Values.autoscaling.targetMemoryUtilizationPercentage) 0) }}
{{- fail "autoscaling is on but has no metric: set autoscaling.targetCPUUtilizationPercentage and/or autoscaling.targetMemoryUtilizationPercentage" }}
{{- end }}
{{- end }}
{{- $store := dig "store" "type" "memory" .Values.config | toString | lower }}
{{- if and (gt $pods 1) (eq $store "memory") (not .Values.allowMemoryStoreWithReplicas) }}
{{- fail (printf "config.store.type is \"memory\" but %s: each pod would count on its own, so a client's limit would become about %d times config.throttle.limit and a captcha passed on one pod would not lift the throttle on the others. Use config.store.type: redis (with config.store.redis.url), or set allowMemoryStoreWithReplicas: true to accept per-pod counting" $what $pods) }}
{{- end }}
{{- if and (gt $pods 1) (eq (dig "csrf" "secret" "" .Values.config | toString) "") }}
{{- fail (printf "config.csrf.secret is empty but %s: each pod would sign captcha forms with its own random key and reject the other pods' forms (403). Set config.csrf.secret: ${CSRF_SECRET} with secret.csrfSecret or secret.existingSecret" $what) }}
{{- end }}
{{- $adminHost := dig "admin" "host" "" .Values.config | toString | trimAll "[]" | lower }}
{{- if or (hasPrefix "127." $adminHost) (eq $adminHost "::1" "localhost") }}
{{- fail (printf "config.admin.host is %q, a loopback address: the kubelet's probes and Prometheus reach the pod from outside it, so the pods would never be ready. Set config.admin.host: 0.0.0.0 (the admin port is on no public Service)" (dig "admin" "host" "" .Values.config | toString)) }}
{{- end }}
{{- if and .Values.secret.existingSecretKeys (not .Values.secret.existingSecret) }}
{{- fail "secret.existingSecretKeys names keys of an existing Secret, but secret.existingSecret is empty: set secret.existingSecret to that Secret's name, or drop secret.existingSecretKeys (the chart's own Secret uses the variable names)" }}
{{- end }}
{{- if eq (include "captcha-gateway.httpPort" .) (include "captcha-gateway.adminPort" .) }}
{{- fail (printf "config.listen.port and config.admin.port are both %s: the admin port must differ" (include "captcha-gateway.httpPort" .)) }}
{{- end }}
{{- /* Each ${NAME} without a default in the config must be set, or the gateway will not start. */}}
{{- $keys := include "captcha-gateway.secretKeys" . | fromYaml }}
{{- $provided := include "captcha-gateway.extraEnvNames" . | splitList "\n" }}
{{- range $env, $key := $keys }}
{{- if or $.Values.secret.existingSecret (index $.Values.secret $key) }}
{{- $provided = append $provided $env }}
{{- end }}
{{- end }}
{{- $missing := list }}
{{- $hints := list }}
{{- range regexFindAll `\$\{[A-Za-z_][A-Za-z0-9_]*\}` (toYaml .Values.config) -1 }}
{{- $name := trimPrefix "${" . | trimSuffix "}" }}
{{- if not (has $name $provided) }}
{{- $missing = append $missing $name }}
{{- if hasKey $keys $name }}
{{- $hints = append $hints (printf "secret.%s" (get $keys $name)) }}
{{- else }}
{{- $hints = append $hints (printf "extraEnv %s" $name) }}
{{- end }}
{{- end }}
{{- end }}
{{- if and $missing (not .Values.extraEnvFrom) }}
{{- fail (printf "config references %s without a default, but nothing sets %s: set %s, or secret.existingSecret (a Secret with those keys), or extraEnv / extraEnvFrom. The gateway refuses to start with an unset ${NAME}" (join ", " (uniq $missing)) (ternary "it" "them" (eq (len (uniq $missing)) 1)) (join ", " (uniq $hints))) }}
{{- end }}
{{- end }}
