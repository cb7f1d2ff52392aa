{{- define "blueberry.labels" -}}
app.kubernetes.io/name: blueberry
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
blueberry.io/part-of: platform
{{- end -}}

{{- define "blueberry.image" -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- end -}}

{{/* Settings shared by both roles, as BLUEBERRY_* variables. Secrets come from secretKeyRef. */}}
{{- define "blueberry.env" -}}
- name: BLUEBERRY_LISTEN
  value: "0.0.0.0:8080"
- name: BLUEBERRY_LOG_FORMAT
  value: {{ .Values.logFormat | quote }}
- name: BLUEBERRY_PUBLIC_URL
  value: {{ .Values.publicUrl | quote }}
- name: BLUEBERRY_BASE_DOMAIN
  value: {{ .Values.baseDomain | quote }}
- name: BLUEBERRY_DEFAULT_TTL_HOURS
  value: {{ .Values.defaultTtlHours | quote }}
- name: BLUEBERRY_IN_CLUSTER
  value: "true"
- name: BLUEBERRY_PUBLIC_STATUS_PAGES
  value: {{ .Values.publicStatusPages | quote }}
- name: BLUEBERRY_ARGOCD_NAMESPACE
  value: {{ .Values.argocd.namespace | quote }}
- name: BLUEBERRY_ARGOCD_PROJECT
  value: {{ .Values.argocd.project | quote }}
- name: BLUEBERRY_NAMESPACE_PREFIX
  value: {{ .Values.argocd.namespacePrefix | quote }}
- name: BLUEBERRY_STORE
  value: firestore
- name: BLUEBERRY_QUEUE
  value: pubsub
- name: BLUEBERRY_GCP_PROJECT
  value: {{ .Values.gcpProject | quote }}
{{- with .Values.archive }}
{{- if .bucket }}
- name: BLUEBERRY_ARCHIVE_BUCKET
  value: {{ .bucket | quote }}
{{- end }}
- name: BLUEBERRY_RETAIN_TERMINATED_DAYS
  value: {{ .retainTerminatedDays | default 7 | quote }}
{{- end }}
- name: BLUEBERRY_PUBSUB_TOPIC
  value: {{ .Values.pubsub.topic | quote }}
- name: BLUEBERRY_PUBSUB_SUBSCRIPTION
  value: {{ .Values.pubsub.subscription | quote }}
- name: BLUEBERRY_PUBSUB_DEAD_LETTER_TOPIC
  value: {{ .Values.pubsub.deadLetterTopic | quote }}
{{- if .Values.redis.enabled }}
- name: BLUEBERRY_BUS
  value: redis
- name: BLUEBERRY_CACHE
  value: redis
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.redis.auth.existingSecret }}
      key: {{ .Values.redis.auth.existingSecretPasswordKey }}
- name: BLUEBERRY_REDIS_URL
  value: {{ printf "redis://:$(REDIS_PASSWORD)@%s-redis-master:6379" .Release.Name | quote }}
{{- end }}
- name: BLUEBERRY_SESSION_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.secrets.name }}
      key: {{ .Values.secrets.sessionKeyKey }}
# The first admin token, so that replicas starting together agree on it.
- name: BLUEBERRY_BOOTSTRAP_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ .Values.secrets.name }}
      key: {{ .Values.secrets.bootstrapTokenKey }}
      optional: true
{{- with .Values.gitlab.url }}
- name: BLUEBERRY_GITLAB_URL
  value: {{ . | quote }}
- name: BLUEBERRY_GITLAB_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ $.Values.secrets.name }}
      key: {{ $.Values.secrets.gitlabTokenKey }}
{{- end }}
{{- with .Values.firebase.project }}
- name: BLUEBERRY_FIREBASE_PROJECT
  value: {{ . | quote }}
{{- with $.Values.firebase.apiKey }}
- name: BLUEBERRY_FIREBASE_API_KEY
  value: {{ . | quote }}
{{- end }}
- name: BLUEBERRY_FIREBASE_ADMINS
  value: {{ join "," $.Values.firebase.admins | quote }}
- name: BLUEBERRY_FIREBASE_DEVELOPERS
  value: {{ join "," $.Values.firebase.developers | quote }}
- name: BLUEBERRY_FIREBASE_VIEWERS
  value: {{ join "," $.Values.firebase.viewers | quote }}
{{- if $.Values.firebase.unknownUsersView }}
- name: BLUEBERRY_FIREBASE_UNKNOWN_USERS_VIEW
  value: "true"
{{- end }}
{{- end }}
{{- end -}}

{{/* One pod spec for both roles; `role` is api or worker. */}}
{{- define "blueberry.pod" -}}
{{- $root := index . 0 -}}
{{- $role := index . 1 -}}
{{- $values := index $root.Values $role -}}
serviceAccountName: {{ $root.Values.serviceAccount.name }}
securityContext:
  runAsNonRoot: true
  runAsUser: 65532
  runAsGroup: 65532
  seccompProfile:
    type: RuntimeDefault
containers:
  - name: blueberry
    image: {{ include "blueberry.image" $root }}
    imagePullPolicy: {{ $root.Values.image.pullPolicy }}
    args: ["serve"]
    env:
      - name: BLUEBERRY_ROLE
        value: {{ $role }}
      {{- if eq $role "worker" }}
      - name: BLUEBERRY_WORKERS
        value: {{ $values.concurrency | quote }}
      {{- end }}
      {{- include "blueberry.env" $root | nindent 6 }}
    ports:
      - name: http
        containerPort: 8080
    # /healthz: the process is alive. /readyz: the store, queue and cluster answer; a pod that
    # cannot reach them gets no traffic, and is not restarted for it.
    startupProbe:
      httpGet: {path: /healthz, port: http}
      periodSeconds: 2
      failureThreshold: 30
    livenessProbe:
      httpGet: {path: /healthz, port: http}
      periodSeconds: 10
      failureThreshold: 3
    readinessProbe:
      httpGet: {path: /readyz, port: http}
      periodSeconds: 5
      failureThreshold: 2
    resources:
      {{- toYaml $values.resources | nindent 6 }}
    securityContext:
      allowPrivilegeEscalation: false
      readOnlyRootFilesystem: true
      capabilities:
        drop: ["ALL"]
{{- end -}}
