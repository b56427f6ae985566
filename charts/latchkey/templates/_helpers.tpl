{{/* Names, labels and the rendered configuration, shared by the templates. */}}

{{- define "latchkey.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "latchkey.fullname" -}}
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

{{- define "latchkey.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride }}
{{- end }}

{{- define "latchkey.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "latchkey.selectorLabels" -}}
app.kubernetes.io/name: {{ include "latchkey.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "latchkey.labels" -}}
helm.sh/chart: {{ include "latchkey.chart" . }}
{{ include "latchkey.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- /* Tells the telemetry Service apart from the user-facing one, which has the same selector labels. */}}
{{- define "latchkey.telemetryLabels" -}}
app.kubernetes.io/component: telemetry
{{- end }}

{{- define "latchkey.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "latchkey.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "latchkey.configSecretName" -}}
{{- if .Values.configSecret.create }}
{{- default (include "latchkey.fullname" .) .Values.configSecret.name }}
{{- else }}
{{- required "configSecret.name is required when configSecret.create is false" .Values.configSecret.name }}
{{- end }}
{{- end }}

{{- define "latchkey.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- /*
The configuration file: .Values.config with the chart's defaults for what it leaves out. Storage defaults
to the custom resources of the pod's namespace; Kubernetes storage defaults to crdHandling: check (Helm
installs the CRDs, so Latchkey needs no permission to create them) and follows rbac.watchSecrets; with
https.secretName the TLS files default to the mounted
Secret; with the ingress on, the client's address is read from X-Forwarded-For set by the ingress
(web.clientRemoteIP), unless the configuration says otherwise. Returned as YAML.
*/}}
{{- define "latchkey.config" -}}
{{- $config := deepCopy .Values.config }}
{{- if not $config.storage }}
{{- $_ := set $config "storage" (dict "type" "kubernetes" "config" (dict "inCluster" true)) }}
{{- end }}
{{- if eq (toString $config.storage.type) "kubernetes" }}
{{- $storageConfig := default (dict) $config.storage.config }}
{{- if not (hasKey $storageConfig "crdHandling") }}{{- $_ := set $storageConfig "crdHandling" "check" }}{{- end }}
{{- if and .Values.rbac.watchSecrets (not (hasKey $storageConfig "watchSecrets")) }}
{{- $_ := set $storageConfig "watchSecrets" true }}
{{- end }}
{{- $_ := set $config.storage "config" $storageConfig }}
{{- end }}
{{- if and .Values.https.enabled .Values.https.secretName }}
{{- $web := default (dict) $config.web }}
{{- if not $web.tlsCert }}{{- $_ := set $web "tlsCert" "/etc/latchkey/tls/tls.crt" }}{{- end }}
{{- if not $web.tlsKey }}{{- $_ := set $web "tlsKey" "/etc/latchkey/tls/tls.key" }}{{- end }}
{{- $_ := set $config "web" $web }}
{{- end }}
{{- $web := default (dict) $config.web }}
{{- if not (hasKey $web "drainDelay") }}{{- $_ := set $web "drainDelay" .Values.shutdown.drainDelay }}{{- end }}
{{- $_ := set $config "web" $web }}
{{- if .Values.ingress.enabled }}
{{- $web := default (dict) $config.web }}
{{- if not $web.clientRemoteIP }}
{{- $_ := set $web "clientRemoteIP" (dict "header" "X-Forwarded-For" "trustedProxies" .Values.ingress.trustedProxies) }}
{{- end }}
{{- $_ := set $config "web" $web }}
{{- end }}
{{- toYaml $config }}
{{- end }}

{{- /* The issuer, for NOTES.txt and the test hook ("" when the configuration is not the chart's). */}}
{{- define "latchkey.issuer" -}}
{{- if .Values.configSecret.create }}{{ .Values.config.issuer | default "" }}{{ end }}
{{- end }}

{{- /*
What the rendered configuration asks of RBAC, as YAML: crdCreate (crdHandling: ensure on Kubernetes
storage) and watchSecrets. With an existing config Secret the chart cannot read it: no CRD creation (Helm
installs the CRDs), and watchSecrets as rbac.watchSecrets says.
*/}}
{{- define "latchkey.rbacNeeds" -}}
{{- $crdCreate := false }}
{{- $watchSecrets := .Values.rbac.watchSecrets }}
{{- if .Values.configSecret.create }}
{{- $storage := (include "latchkey.config" . | fromYaml).storage }}
{{- if eq (toString $storage.type) "kubernetes" }}
{{- $crdCreate = eq (toString $storage.config.crdHandling) "ensure" }}
{{- $watchSecrets = or $watchSecrets (eq (toString $storage.config.watchSecrets) "true") }}
{{- end }}
{{- end }}
crdCreate: {{ $crdCreate }}
watchSecrets: {{ $watchSecrets }}
{{- end }}
