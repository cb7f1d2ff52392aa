{{/* Labels every object carries. */}}
{{- define "environment.labels" -}}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
blueberry.io/environment: {{ .Values.blueberry.environmentId | quote }}
{{- with .Values.blueberry.mergeRequest }}
blueberry.io/merge-request: {{ . | quote }}
{{- end }}
{{- end -}}

{{/* An image pinned by digest stays as it is; a bare repository gets the commit's tag. */}}
{{- define "environment.image" -}}
{{- $image := index . 0 -}}
{{- $root := index . 1 -}}
{{- if contains "@sha256:" $image -}}
{{- $image -}}
{{- else -}}
{{- required "an image without a digest needs blueberry.imageTag" $root.Values.blueberry.imageTag | printf "%s:%s" $image -}}
{{- end -}}
{{- end -}}

{{/* Pod security every container gets: non-root, no privilege escalation, read-only root. */}}
{{- define "environment.containerSecurity" -}}
securityContext:
  runAsNonRoot: true
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities:
    drop: ["ALL"]
  seccompProfile:
    type: RuntimeDefault
{{- end -}}
