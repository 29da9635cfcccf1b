{{/* Names ------------------------------------------------------------------ */}}

{{- define "vellet.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The prefix of every resource name, kept short enough for a component suffix. */}}
{{- define "vellet.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "vellet.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* <fullname>-<component>; called with (dict "root" $ "component" "wallet"). */}}
{{- define "vellet.componentName" -}}
{{- printf "%s-%s" (include "vellet.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels ----------------------------------------------------------------- */}}

{{- define "vellet.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vellet.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "vellet.labels" -}}
helm.sh/chart: {{ include "vellet.chart" . }}
{{ include "vellet.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: vellet
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Called with (dict "root" $ "component" "wallet"). */}}
{{- define "vellet.componentSelectorLabels" -}}
{{ include "vellet.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "vellet.componentLabels" -}}
{{ include "vellet.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Images ----------------------------------------------------------------- */}}

{{/* An image reference from {repository, tag, digest}; the digest wins. */}}
{{- define "vellet.imageRef" -}}
{{- $image := .image -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $image.repository $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $image.repository (toString (default .default $image.tag)) -}}
{{- end -}}
{{- end -}}

{{- define "vellet.image" -}}
{{- include "vellet.imageRef" (dict "image" .Values.image "default" .Chart.AppVersion) -}}
{{- end -}}

{{- define "vellet.serviceAccountName" -}}
{{- $values := index .root.Values .component -}}
{{- if $values.serviceAccount.create -}}
{{- default (include "vellet.componentName" .) $values.serviceAccount.name -}}
{{- else -}}
{{- default "default" $values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Secrets ---------------------------------------------------------------- */}}

{{- define "vellet.appSecretName" -}}
{{- default (include "vellet.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{/*
A generated secret value, base64-encoded: the one already stored in the cluster when the
Secret exists (so an upgrade keeps it), else a new random one. (dict "root" $ "name"
"<secret>" "key" "<key>")
*/}}
{{- define "vellet.keptSecret" -}}
{{- $existing := lookup "v1" "Secret" .root.Release.Namespace .name -}}
{{- if and $existing (hasKey (default dict $existing.data) .key) -}}
{{- index $existing.data .key -}}
{{- else -}}
{{- randAlphaNum 48 | b64enc -}}
{{- end -}}
{{- end -}}

{{/* Dependencies ----------------------------------------------------------- */}}

{{- define "vellet.validate" -}}
{{- if not .Values.keys.existingSecret -}}
{{- fail "keys.existingSecret must name the Secret with the service keys: vellet keys generate --kubernetes-secret vellet-keys --namespace <ns> | kubectl apply -f -" -}}
{{- end -}}
{{- $pg := .Values.postgresql.enabled -}}
{{- $extPg := .Values.externalPostgresql.host -}}
{{- if and $pg $extPg -}}
{{- fail "PostgreSQL is configured twice: set either postgresql.enabled (in-chart, development) or externalPostgresql.host, not both" -}}
{{- end -}}
{{- if and (or .Values.wallet.enabled .Values.bank.enabled) (not (or $pg $extPg)) -}}
{{- fail "no PostgreSQL configured: set externalPostgresql.host (with externalPostgresql.existingSecret) for your own server, or postgresql.enabled=true for an in-chart development one" -}}
{{- end -}}
{{- if and $extPg (not .Values.externalPostgresql.existingSecret) -}}
{{- fail "externalPostgresql.existingSecret must name a Secret with the bank's and the wallet's database passwords" -}}
{{- end -}}
{{- $redis := .Values.redis.enabled -}}
{{- $extRedis := .Values.externalRedis.host -}}
{{- if and $redis $extRedis -}}
{{- fail "Redis is configured twice: set either redis.enabled (in-chart, development) or externalRedis.host, not both" -}}
{{- end -}}
{{- if not (or $redis $extRedis) -}}
{{- fail "no Redis configured: set externalRedis.host for your own server, or redis.enabled=true for an in-chart development one" -}}
{{- end -}}
{{- if and (gt (int .Values.operator.replicaCount) 1) (not .Values.operator.peering.enabled) -}}
{{- fail "operator.replicaCount > 1 needs operator.peering.enabled: two standalone operators would handle the same Transfers" -}}
{{- end -}}
{{- if and .Values.operator.enabled (not .Values.wallet.enabled) -}}
{{- fail "operator.enabled needs wallet.enabled: the operator moves money through the wallet's internal API" -}}
{{- end -}}
{{- if and .Values.notifier.smtp.user (not .Values.notifier.smtp.existingSecret) -}}
{{- fail "notifier.smtp.user needs notifier.smtp.existingSecret with the SMTP password" -}}
{{- end -}}
{{- end -}}

{{- define "vellet.postgresql.host" -}}
{{- if .Values.postgresql.enabled -}}
{{- include "vellet.componentName" (dict "root" . "component" "postgresql") -}}
{{- else -}}
{{- .Values.externalPostgresql.host -}}
{{- end -}}
{{- end -}}

{{- define "vellet.postgresql.port" -}}
{{- if .Values.postgresql.enabled -}}5432{{- else -}}{{ .Values.externalPostgresql.port }}{{- end -}}
{{- end -}}

{{- define "vellet.postgresql.secretName" -}}
{{- if .Values.postgresql.enabled -}}
{{- default (include "vellet.componentName" (dict "root" . "component" "postgresql")) .Values.postgresql.existingSecret -}}
{{- else -}}
{{- .Values.externalPostgresql.existingSecret -}}
{{- end -}}
{{- end -}}

{{/*
The database URL of the bank or the wallet (no password: PGPASSWORD carries it, so no
secret is ever rendered into a ConfigMap). (dict "root" $ "component" "bank")
*/}}
{{- define "vellet.databaseUrl" -}}
{{- $root := .root -}}
{{- $ext := $root.Values.externalPostgresql -}}
{{- $user := $root.Values.postgresql.username -}}
{{- $db := printf "vellet_%s" .component -}}
{{- $query := "sslmode=disable" -}}
{{- if not $root.Values.postgresql.enabled -}}
{{- $user = (index $ext .component).username -}}
{{- $db = (index $ext .component).database -}}
{{- $query = printf "sslmode=%s" $ext.tls.mode -}}
{{- if $ext.tls.caSecret -}}
{{- $query = printf "%s&sslrootcert=/etc/vellet/postgresql-ca/%s" $query $ext.tls.caKey -}}
{{- end -}}
{{- end -}}
{{- printf "postgresql://%s@%s:%s/%s?%s" $user (include "vellet.postgresql.host" $root) (include "vellet.postgresql.port" $root) $db $query -}}
{{- end -}}

{{- define "vellet.postgresql.passwordKey" -}}
{{- if .root.Values.postgresql.enabled -}}
postgres-password
{{- else -}}
{{- index .root.Values.externalPostgresql (printf "%sPasswordKey" .component) -}}
{{- end -}}
{{- end -}}

{{/* env entries for one component's database. (dict "root" $ "component" "bank") */}}
{{- define "vellet.databaseEnv" -}}
- name: PGPASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "vellet.postgresql.secretName" .root }}
      key: {{ include "vellet.postgresql.passwordKey" . }}
- name: VELLET_{{ upper .component }}_DATABASE_URL
  value: {{ include "vellet.databaseUrl" . | quote }}
{{- end -}}

{{- define "vellet.redis.secretName" -}}
{{- if .Values.redis.enabled -}}
{{- default (include "vellet.componentName" (dict "root" . "component" "redis")) .Values.redis.existingSecret -}}
{{- else -}}
{{- .Values.externalRedis.existingSecret -}}
{{- end -}}
{{- end -}}

{{/*
env entries giving one component its own VELLET_REDIS_URL: its own ACL user (the in-chart
Redis's users are named after the components; externalRedis.users names yours), whose
password enters by $(VAR) expansion in the pod, so no ConfigMap or manifest holds it.
(dict "root" $ "component" "bank"); "admin" for the `helm test` pod's CONFIG GET.
*/}}
{{- define "vellet.redisEnv" -}}
{{- $root := .root -}}
{{- $secret := include "vellet.redis.secretName" $root -}}
{{- $ext := $root.Values.externalRedis -}}
{{- $user := .component -}}
{{- $key := printf "%s-password" .component -}}
{{- if not $root.Values.redis.enabled -}}
{{- $entry := index $ext.users .component -}}
{{- $user = $entry.username -}}
{{- $key = $entry.passwordKey -}}
{{- end -}}
{{- if $secret }}
- name: VELLET_REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $key }}
{{- end }}
{{- $auth := "" -}}
{{- if $secret -}}
{{- $auth = printf "%s:$(VELLET_REDIS_PASSWORD)@" $user -}}
{{- end -}}
{{- if $root.Values.redis.enabled }}
- name: VELLET_REDIS_URL
  value: {{ printf "redis://%s%s:6379/0" $auth (include "vellet.componentName" (dict "root" $root "component" "redis")) | quote }}
{{- else }}
{{- $scheme := ternary "rediss" "redis" $ext.tls.enabled -}}
{{- $query := "" -}}
{{- if and $ext.tls.enabled $ext.tls.caSecret -}}
{{- $query = printf "?ssl_cert_reqs=required&ssl_ca_certs=/etc/vellet/redis-ca/%s" $ext.tls.caKey -}}
{{- end }}
- name: VELLET_REDIS_URL
  value: {{ printf "%s://%s%s:%v/%v%s" $scheme $auth $ext.host $ext.port $ext.database $query | quote }}
{{- end }}
{{- end -}}

{{/*
The in-chart Redis's ACL file: the default user off, `admin` (probes, `helm test`) with
everything, and one user per service with the rules of files/redis-acl.yaml (written from
vellet.common.redis_acl). Passwords only as SHA-256. (dict "root" $ "passwords" (dict ...))
*/}}
{{- define "vellet.redis.aclFile" -}}
{{- $rules := .root.Files.Get "files/redis-acl.yaml" | fromYaml -}}
user default off resetkeys resetchannels -@all
user admin on #{{ sha256sum .passwords.admin }} ~* &* +@all
{{- range $user := list "bank" "wallet" "notifier" }}
user {{ $user }} on #{{ sha256sum (index $.passwords $user) }} {{ index $rules $user | join " " }}
{{- end }}
{{ end -}}

{{/*
Service keys (keys.existingSecret, made by `vellet keys generate --kubernetes-secret`).
Each component gets only the files its role needs: its own private key and the public
keys of the signers it trusts -- the same roles as vellet.common.keyfiles.ROLES. No
component is ever given bank-admin.key (the Secret does not even hold it).
*/}}
{{- define "vellet.keyFiles" -}}
{{- $roles := dict "wallet" (list "wallet.key" "bank.pub" "operator.pub") "bank" (list "bank.key" "wallet.pub" "bank-admin.pub") "notifier" (list "wallet.pub") "operator" (list "operator.key") -}}
{{- index $roles . | join "," -}}
{{- end -}}

{{/* env entries naming the mounted key files. (dict "root" $ "component" "bank") */}}
{{- define "vellet.keyEnv" -}}
{{- range $file := splitList "," (include "vellet.keyFiles" .component) }}
{{- $signer := trimSuffix ".pub" (trimSuffix ".key" $file) }}
- name: VELLET_{{ $signer | upper | replace "-" "_" }}{{ if hasSuffix ".pub" $file }}_PUBLIC{{ end }}_KEY_FILE
  value: /etc/vellet/keys/{{ $file }}
{{- end }}
{{- end -}}

{{/* The keys volume: only the component's own items of the keys Secret. */}}
{{- define "vellet.keyVolume" -}}
- name: keys
  secret:
    secretName: {{ .root.Values.keys.existingSecret }}
    defaultMode: 0440
    items:
      {{- range $file := splitList "," (include "vellet.keyFiles" .component) }}
      - key: {{ $file }}
        path: {{ $file }}
      {{- end }}
{{- end -}}

{{- define "vellet.keyMount" -}}
- name: keys
  mountPath: /etc/vellet/keys
  readOnly: true
{{- end -}}

{{/* Volumes and mounts for dependency CA certificates (external servers only). */}}
{{- define "vellet.caVolumes" -}}
{{- if and (not .Values.postgresql.enabled) .Values.externalPostgresql.tls.caSecret }}
- name: postgresql-ca
  secret:
    secretName: {{ .Values.externalPostgresql.tls.caSecret }}
{{- end }}
{{- if and (not .Values.redis.enabled) .Values.externalRedis.tls.enabled .Values.externalRedis.tls.caSecret }}
- name: redis-ca
  secret:
    secretName: {{ .Values.externalRedis.tls.caSecret }}
{{- end }}
{{- end -}}

{{- define "vellet.caMounts" -}}
{{- if and (not .Values.postgresql.enabled) .Values.externalPostgresql.tls.caSecret }}
- name: postgresql-ca
  mountPath: /etc/vellet/postgresql-ca
  readOnly: true
{{- end }}
{{- if and (not .Values.redis.enabled) .Values.externalRedis.tls.enabled .Values.externalRedis.tls.caSecret }}
- name: redis-ca
  mountPath: /etc/vellet/redis-ca
  readOnly: true
{{- end }}
{{- end -}}

{{/* In-cluster URLs ---------------------------------------------------------- */}}

{{- define "vellet.url" -}}
{{- $values := index .root.Values .component -}}
{{- printf "http://%s:%v" (include "vellet.componentName" .) $values.service.port -}}
{{- end -}}

{{/* The internal port's URL of the wallet or the bank (internal API, admin routes, /metrics). */}}
{{- define "vellet.internalUrl" -}}
{{- $values := index .root.Values .component -}}
{{- printf "http://%s:%v" (include "vellet.componentName" .) $values.service.internalPort -}}
{{- end -}}

{{/* The name of the port /metrics answers on: "internal" where a component has one, else "http". */}}
{{- define "vellet.metricsPort" -}}
{{- ternary "internal" "http" (hasKey (index .root.Values .component).service "internalPort") -}}
{{- end -}}
