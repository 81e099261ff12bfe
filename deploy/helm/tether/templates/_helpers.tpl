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

{{/*
The token, base64 as a Secret holds it, or "" when the chart cannot know it (tokenExistingSecret under
`helm template`). Worked out once per render and kept in .Values (the token Secret, and the checksum
annotations that roll both agents' pods when it changes, must see the same value):
- clusterAgent.token: as given (32 characters at least);
- clusterAgent.tokenExistingSecret: that Secret's, read with lookup when there is a cluster;
- else the Secret the chart created before (lookup): kept across upgrades;
- else a new random one, but only when there is a cluster to keep it in. `helm template` (Argo CD,
  Flux post-rendering, `helm template | kubectl apply`) has none: lookup answers nothing, and a new token
  per render would give restarted pods another token than their peers (403). There, rendering fails and
  says to set one. How the two are told apart: lookup of Namespace kube-system, which every cluster has
  (the API server creates it) and which lookup sees only when helm talks to a cluster.
*/}}
{{- define "tether.tokenData" -}}
{{- $ca := .Values.clusterAgent -}}
{{- if not (hasKey $ca "_tokenData") -}}
{{- $data := "" -}}
{{- if $ca.tokenExistingSecret -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace $ca.tokenExistingSecret -}}
{{- if and $existing $existing.data (hasKey $existing.data "token") -}}{{- $data = index $existing.data "token" -}}{{- end -}}
{{- else if $ca.token -}}
{{- /* The same minimum as cluster_agent.auth_token (AUTH_TOKEN_MIN_LENGTH): fail here, not in every pod. */ -}}
{{- if lt (len $ca.token) 32 -}}
{{- fail (printf "clusterAgent.token is %d characters long; the cluster agent authentication token length must be at least 32 (agents refuse a shorter one). Use 32 or more characters (e.g. `openssl rand -hex 32`), or leave clusterAgent.token empty to have one generated and kept across upgrades." (len $ca.token)) -}}
{{- end -}}
{{- $data = $ca.token | b64enc -}}
{{- else -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace "datadog-cluster-agent" -}}
{{- if and $existing $existing.data (hasKey $existing.data "token") -}}
{{- $data = index $existing.data "token" -}}
{{- else if lookup "v1" "Namespace" "" "kube-system" -}}
{{- $data = randAlphaNum 48 | b64enc -}}
{{- else -}}
{{- fail "no cluster agent token: rendering without a cluster (helm template, Argo CD, Flux) cannot generate one and keep it, and a new one on every render would make restarted agents disagree with their peers (403 invalid session token). Set clusterAgent.tokenExistingSecret to a Secret of yours with a `token` key (kubectl -n NAMESPACE create secret generic datadog-cluster-agent-token --from-literal=token=$(openssl rand -hex 32)), or clusterAgent.token (32+ characters). `helm install` and `helm upgrade` generate one and keep it." -}}
{{- end -}}
{{- end -}}
{{- $_ := set $ca "_tokenData" $data -}}
{{- end -}}
{{- index $ca "_tokenData" -}}
{{- end -}}

{{/*
The pod template annotation that rolls an agent's pods when the token changes (each reads it only at
start): its SHA-256, when the chart knows the token (not tokenExistingSecret under `helm template`: roll
the pods yourself after changing that Secret, e.g. `kubectl rollout restart`).
*/}}
{{- define "tether.tokenChecksum" -}}
{{- $data := include "tether.tokenData" . -}}
{{- if $data }}
checksum/token: {{ $data | sha256sum | quote }}
{{- end -}}
{{- end -}}

{{/*
The console's admin token, base64, or "" for none: clusterAgent.console.adminToken, else the one this
release's Secret holds (lookup), else a new one when there is a cluster to keep it in (as tether.tokenData
tells). Under `helm template` without a value there is none: the console then has no admin login (its
viewer login and tether diagnose still work). Worked out once per render.
*/}}
{{- define "tether.consoleAdminData" -}}
{{- $c := .Values.clusterAgent.console -}}
{{- if not (hasKey $c "_adminData") -}}
{{- $data := "" -}}
{{- if $c.adminToken -}}
{{- if lt (len $c.adminToken) 32 -}}
{{- fail (printf "clusterAgent.console.adminToken is %d characters long; it must be at least 32. Leave it empty to have one generated and kept across upgrades." (len $c.adminToken)) -}}
{{- end -}}
{{- $data = $c.adminToken | b64enc -}}
{{- else -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace "datadog-cluster-agent-console" -}}
{{- if and $existing $existing.data (hasKey $existing.data "admin-token") -}}
{{- $data = index $existing.data "admin-token" -}}
{{- else if lookup "v1" "Namespace" "" "kube-system" -}}
{{- $data = randAlphaNum 48 | b64enc -}}
{{- end -}}
{{- end -}}
{{- $_ := set $c "_adminData" $data -}}
{{- end -}}
{{- index $c "_adminData" -}}
{{- end -}}

{{/* The cluster agent's pods roll when the console's logins change, as for the token. */}}
{{- define "tether.consoleChecksum" -}}
{{- $c := .Values.clusterAgent.console -}}
{{- $admin := include "tether.consoleAdminData" . -}}
{{- if and $c.enabled (or $admin $c.viewerToken) }}
checksum/console: {{ printf "%s/%s" $admin ($c.viewerToken | default "") | sha256sum | quote }}
{{- end -}}
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
