{{/*
The labels Helm adds to every object. The test that compares the default
render with dist/install.yaml (hack/manifests/chart) ignores exactly these.
*/}}
{{- define "irisha.helmLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}

{{/* The operator's objects. */}}
{{- define "irisha.selectorLabels" -}}
app.kubernetes.io/name: irisha
app.kubernetes.io/component: manager
{{- end }}

{{- define "irisha.labels" -}}
{{ include "irisha.selectorLabels" . }}
{{ include "irisha.helmLabels" . }}
{{- end }}

{{/* The node witnesses' objects, as internal/resources/witness.go labels them. */}}
{{- define "irisha.witnessSelectorLabels" -}}
app.kubernetes.io/name: irisha-witness
{{- end }}

{{- define "irisha.witnessLabels" -}}
{{ include "irisha.witnessSelectorLabels" . }}
{{ include "irisha.helmLabels" . }}
{{- end }}

{{/* The irisha-manager image, also the agent image of IRIS pods. */}}
{{- define "irisha.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/*
A manifest copied from config/ by make dist (files/), with the release's
namespace (namespaced objects only) and the chart's labels added to its own.
*/}}
{{- define "irisha.fromConfig" -}}
{{- $obj := .root.Files.Get .file | fromYaml -}}
{{- $labels := merge (include "irisha.helmLabels" .root | fromYaml) ($obj.metadata.labels | default dict) -}}
{{- $_ := set $obj.metadata "labels" $labels -}}
{{- if $obj.metadata.namespace -}}
{{- $_ := set $obj.metadata "namespace" .root.Release.Namespace -}}
{{- end -}}
{{ toYaml $obj }}
{{- end }}
