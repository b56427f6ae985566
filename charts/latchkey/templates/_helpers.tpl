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
to the custom resources of the pod's namespace; with https.secretName the TLS files default to the mounted
Secret; with the ingress on, the client's address is read from X-Forwarded-For set by the ingress
(web.clientRemoteIP), unless the configuration says otherwise. Returned as YAML.
*/}}
{{- define "latchkey.config" -}}
{{- $config := deepCopy .Values.config }}
{{- if not $config.storage }}
{{- $_ := set $config "storage" (dict "type" "kubernetes" "config" (dict "inCluster" true)) }}
{{- end }}
{{- if and .Values.https.enabled .Values.https.secretName }}
{{- $web := default (dict) $config.web }}
{{- if not $web.tlsCert }}{{- $_ := set $web "tlsCert" "/etc/latchkey/tls/tls.crt" }}{{- end }}
{{- if not $web.tlsKey }}{{- $_ := set $web "tlsKey" "/etc/latchkey/tls/tls.key" }}{{- end }}
{{- $_ := set $config "web" $web }}
{{- end }}
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
