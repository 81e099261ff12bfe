{{/*
Names are Tether's conventions (src/config/conventions.ts, the configuration defaults in
src/config/schema.ts), not derived from the release name: node agents find the Service
datadog-cluster-agent by its environment variables, and the cluster agent's RBAC names the objects it
manages.
*/}}

{{/* Labels every object carries. */}}
{{- define "tether.labels" -}}
app.kubernetes.io/part-of: tether
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The image of a component: repository:tag, tag defaulting to the chart's appVersion. */}}
{{- define "tether.image" -}}
{{ .image.repository }}:{{ .image.tag | default .root.Chart.AppVersion }}
{{- end -}}

{{/* "true" on OpenShift: detected from its API, or forced by providers.openshift.enabled. */}}
{{- define "tether.openshift" -}}
{{- if or .Values.providers.openshift.enabled (.Capabilities.APIVersions.Has "quota.openshift.io/v1") -}}true{{- end -}}
{{- end -}}

{{/*
"true" when hostPath sockets are refused: GKE Autopilot (GKE Warden) and OpenShift (restricted SCC).
The seed's "application pods are not created".
*/}}
{{- define "tether.noHostPath" -}}
{{- if or .Values.providers.gke.autopilot (include "tether.openshift" .) -}}true{{- end -}}
{{- end -}}

{{/* "true" when the agents' Unix sockets are on (and allowed). */}}
{{- define "tether.socketsEnabled" -}}
{{- if and (or .Values.datadog.apm.socketEnabled .Values.datadog.dogstatsd.useSocketVolume) (not (include "tether.noHostPath" .)) -}}true{{- end -}}
{{- end -}}

{{/*
The injection mode (admission_controller.inject_config.mode): clusterAgent.admissionController.configMode
when set; else socket when a socket is on, hostip when the APM port is on or hostPath is refused, else
service.
*/}}
{{- define "tether.configMode" -}}
{{- $ac := .Values.clusterAgent.admissionController -}}
{{- if $ac.configMode -}}
{{ $ac.configMode }}
{{- else if include "tether.socketsEnabled" . -}}
socket
{{- else if or .Values.datadog.apm.portEnabled (include "tether.noHostPath" .) -}}
hostip
{{- else -}}
service
{{- end -}}
{{- end -}}

{{/* The Secret holding the cluster agent token, and its key. */}}
{{- define "tether.tokenSecretName" -}}
{{ .Values.clusterAgent.tokenExistingSecret | default "datadog-cluster-agent" }}
{{- end -}}

{{/* Both agents read the token from that Secret, never from a literal. */}}
{{- define "tether.tokenEnv" -}}
- name: DD_CLUSTER_AGENT_AUTH_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "tether.tokenSecretName" . }}
      key: token
{{- end -}}

{{/* DD_CLUSTER_NAME and DD_TAGS, when set: the rest of the agent stack reads them (Tether ignores them). */}}
{{- define "tether.stackEnv" -}}
{{- if .Values.datadog.clusterName }}
- name: DD_CLUSTER_NAME
  value: {{ .Values.datadog.clusterName | quote }}
{{- end }}
{{- if .Values.datadog.tags }}
- name: DD_TAGS
  value: {{ join " " .Values.datadog.tags | quote }}
{{- end }}
{{- end -}}

{{/* A directory without its trailing slash (hostSocketPath is written "/var/run/datadog/"). */}}
{{- define "tether.dir" -}}
{{- $d := trimSuffix "/" . -}}{{ $d | default "/" }}
{{- end -}}
