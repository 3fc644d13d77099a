{{/* Chart name (nameOverride wins). */}}
{{- define "ingress-reconciler.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name of the release's objects. */}}
{{- define "ingress-reconciler.fullname" -}}
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

{{/* Labels of every object of the release. */}}
{{- define "ingress-reconciler.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "ingress-reconciler.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels that select the reconciler's pods. */}}
{{- define "ingress-reconciler.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ingress-reconciler.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The ServiceAccount the pods run as. */}}
{{- define "ingress-reconciler.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ingress-reconciler.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The reconciler's image. */}}
{{- define "ingress-reconciler.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Where mounted Secrets appear in the container. */}}
{{- define "ingress-reconciler.secretsDir" -}}
/etc/ingress-reconciler/secrets
{{- end }}

{{/* The namespace of the leader-election Lease. */}}
{{- define "ingress-reconciler.leaseNamespace" -}}
{{- .Values.leaderElection.leaseNamespace | default .Release.Namespace }}
{{- end }}

{{/*
The view (public|private) of every provider, as a dict name -> view. A route53 provider without a
view takes its zoneType when that is public or private (as the reconciler does).
*/}}
{{- define "ingress-reconciler.providerViews" -}}
{{- $views := dict }}
{{- range $p := .Values.providers }}
{{- $view := $p.view | default "" }}
{{- if and (not $view) (eq (toString $p.type) "route53") (has (toString $p.zoneType) (list "public" "private")) }}
{{- $view = $p.zoneType }}
{{- end }}
{{- $_ := set $views (toString $p.name) $view }}
{{- end }}
{{- toJson $views }}
{{- end }}

{{/* Referenced Secrets as a sorted list of names (TSIG secrets, AWS credentials). */}}
{{- define "ingress-reconciler.secretNames" -}}
{{- $names := list }}
{{- range $p := .Values.providers }}
{{- if and $p.tsig $p.tsig.secretRef }}
{{- $names = append $names $p.tsig.secretRef.name }}
{{- end }}
{{- end }}
{{- if .Values.aws.credentialsSecret }}
{{- $names = append $names .Values.aws.credentialsSecret }}
{{- end }}
{{- toJson ($names | uniq | sortAlpha) }}
{{- end }}

{{/* Namespaces of the configured and retired fleets, as a sorted JSON list. */}}
{{- define "ingress-reconciler.fleetNamespaces" -}}
{{- $names := list }}
{{- range $f := .Values.fleets }}
{{- $names = append $names $f.namespace }}
{{- end }}
{{- range $f := .Values.rbac.retiredFleets }}
{{- if $f.namespace }}
{{- $names = append $names $f.namespace }}
{{- end }}
{{- end }}
{{- toJson ($names | uniq | sortAlpha) }}
{{- end }}

{{/*
The reconciler's configuration file: exactly the keys reconciler/app/settings.py reads. Chart-only
keys (tsig.secretRef, aws.credentialsSecret, tenancy.admissionPolicy) are turned into what the
reconciler reads (secretFile paths) or left out.
*/}}
{{- define "ingress-reconciler.config" -}}
{{- $v := .Values }}
{{- $providers := list }}
{{- range $p := $v.providers }}
{{- $entry := omit $p "tsig" }}
{{- if $p.tsig }}
{{- $tsig := omit $p.tsig "secretRef" }}
{{- if $p.tsig.secretRef }}
{{- $_ := set $tsig "secretFile" (printf "%s/%s/%s" (include "ingress-reconciler.secretsDir" $) $p.tsig.secretRef.name ($p.tsig.secretRef.key | default "secret")) }}
{{- end }}
{{- $_ := set $entry "tsig" $tsig }}
{{- end }}
{{- $providers = append $providers $entry }}
{{- end }}
{{- $config := dict
  "ownerId" $v.ownerId
  "policy" $v.policy
  "txtPrefix" $v.txtPrefix
  "txtSuffix" $v.txtSuffix
  "txtWildcardReplacement" $v.txtWildcardReplacement
  "domainFilter" $v.domainFilter
  "managedRecordTypes" $v.managedRecordTypes
  "defaultTTL" $v.defaultTTL
  "annotationPrefixes" $v.annotationPrefixes
  "publicExcludedTargetNets" $v.publicExcludedTargetNets
  "ingressClassNames" $v.ingressClassNames
  "gatewayRoutes" $v.gatewayRoutes
  "gatewayClassNames" $v.gatewayClassNames
  "interval" $v.interval
  "resyncPeriod" $v.resyncPeriod
  "debounce" $v.debounce
  "clusterName" $v.clusterName
  "aws" (dict "region" $v.aws.region "endpointUrl" $v.aws.endpointUrl)
  "providers" $providers
  "fleets" $v.fleets
  "tenants" $v.tenants
  "tenancy" (dict "unassigned" $v.tenancy.unassigned)
  "leaderElection" $v.leaderElection
  "health" $v.health
}}
{{- toYaml $config }}
{{- end }}

{{/*
Name of a fleet's controller ClusterRole/ClusterRoleBinding (reconciler/fleets/profiles.py uses the same
convention): ingress-reconciler-<fleet>.
*/}}
{{- define "ingress-reconciler.fleetObjectName" -}}
{{- printf "ingress-reconciler-%s" . }}
{{- end }}
