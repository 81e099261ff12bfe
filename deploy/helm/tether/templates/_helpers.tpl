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

{{/* "true" when the values ask for a Unix socket (and hostPath is allowed): what derives configMode socket. */}}
{{- define "tether.socketsRequested" -}}
{{- if and (or .Values.datadog.apm.socketEnabled .Values.datadog.dogstatsd.useSocketVolume) (not (include "tether.noHostPath" .)) -}}true{{- end -}}
{{- end -}}

{{/*
"true" when the node agent listens on the trace socket (DD_APM_RECEIVER_SOCKET) / the DogStatsD socket
(DD_DOGSTATSD_SOCKET): when its value is on, and both in configMode socket, since the webhook then points
every injected pod at both (DD_TRACE_AGENT_URL and DD_DOGSTATSD_URL); never where hostPath is refused.
*/}}
{{- define "tether.apmSocket" -}}
{{- if and (or .Values.datadog.apm.socketEnabled (eq (include "tether.configMode" .) "socket")) (not (include "tether.noHostPath" .)) -}}true{{- end -}}
{{- end -}}
{{- define "tether.dsdSocket" -}}
{{- if and (or .Values.datadog.dogstatsd.useSocketVolume (eq (include "tether.configMode" .) "socket")) (not (include "tether.noHostPath" .)) -}}true{{- end -}}
{{- end -}}

{{/* "true" when the node agent has a socket, so mounts the host socket directory. */}}
{{- define "tether.socketsEnabled" -}}
{{- if or (include "tether.apmSocket" .) (include "tether.dsdSocket" .) -}}true{{- end -}}
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
{{- else if include "tether.socketsRequested" . -}}
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

{{/*
The node agent's intake ports (SPEC §10): the stack's DogStatsD and trace ports, which tracers and clients
use by default (the webhook injects only DD_AGENT_HOST, never a port). Tether's defaults of dogstatsd_port
and apm_config.receiver_port; test/e2e/helm.test.ts checks they still match.
*/}}
{{- define "tether.dogstatsdPort" -}}8125{{- end -}}
{{- define "tether.tracePort" -}}8126{{- end -}}

{{/*
"true" when the node agent's intake port is a host port too: when the values ask for it
(datadog.dogstatsd.useHostPort, datadog.apm.portEnabled, as in the usual chart), and both in configMode
hostip, where the webhook sends every injected pod to its node's IP. (The usual chart leaves 8125 without
a host port in hostip mode unless useHostPort is set too: DogStatsD clients then send into the void.)
*/}}
{{- define "tether.dogstatsdHostPort" -}}
{{- if or .Values.datadog.dogstatsd.useHostPort (eq (include "tether.configMode" .) "hostip") -}}true{{- end -}}
{{- end -}}
{{- define "tether.traceHostPort" -}}
{{- if or .Values.datadog.apm.portEnabled (eq (include "tether.configMode" .) "hostip") -}}true{{- end -}}
{{- end -}}

{{/*
The node agent's OTLP export URLs as `tether node-agent` derives them (nodeagent/intake/otlp/pipeline.ts
otlpUrls): the signal's own endpoint, else the base endpoint + /v1/traces, /v1/metrics or /v1/logs; "" = none.
*/}}
{{- define "tether.otlpTracesUrl" -}}
{{- $o := .Values.agents.otlp -}}
{{- if $o.tracesEndpoint -}}{{ $o.tracesEndpoint }}{{- else if $o.endpoint -}}{{ regexReplaceAll "/+$" $o.endpoint "" }}/v1/traces{{- end -}}
{{- end -}}
{{- define "tether.otlpMetricsUrl" -}}
{{- $o := .Values.agents.otlp -}}
{{- if $o.metricsEndpoint -}}{{ $o.metricsEndpoint }}{{- else if $o.endpoint -}}{{ regexReplaceAll "/+$" $o.endpoint "" }}/v1/metrics{{- end -}}
{{- end -}}
{{- define "tether.otlpLogsUrl" -}}
{{- $o := .Values.agents.otlp -}}
{{- if $o.logsEndpoint -}}{{ $o.logsEndpoint }}{{- else if $o.endpoint -}}{{ regexReplaceAll "/+$" $o.endpoint "" }}/v1/logs{{- end -}}
{{- end -}}

{{/*
The TCP ports the node agent exports to, one per line, without repeats: each OTLP URL's port, else 80 for
http and 443 for https. What the network policies open for the node agent's egress.
*/}}
{{- define "tether.otlpPorts" -}}
{{- $ports := list -}}
{{- range $u := list (include "tether.otlpTracesUrl" $) (include "tether.otlpMetricsUrl" $) (include "tether.otlpLogsUrl" $) -}}
{{- if $u -}}
{{- $url := urlParse $u -}}
{{- $port := regexFind "[0-9]+$" (regexFind ":[0-9]+$" $url.host) -}}
{{- if not $port -}}{{- $port = ternary "443" "80" (eq $url.scheme "https") -}}{{- end -}}
{{- $ports = append $ports $port -}}
{{- end -}}
{{- end -}}
{{- join "\n" (uniq $ports) -}}
{{- end -}}
