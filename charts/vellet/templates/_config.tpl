{{/*
The non-secret settings of one component, as VELLET_* variables (rendered into its
ConfigMap and hashed into its pods' checksum/config annotation, so pods roll when
they change). Secrets are never here: they come from secretKeyRef in the pod.
(dict "root" $ "component" "wallet")
*/}}
{{- define "vellet.configData" -}}
{{- $root := .root -}}
{{- $values := $root.Values -}}
{{- $v := index $values .component -}}
{{- $host := $values.config.listenHost -}}
VELLET_LOG_LEVEL: {{ $values.config.logLevel | quote }}
{{- if eq .component "wallet" }}
VELLET_WALLET_HOST: {{ $host | quote }}
VELLET_WALLET_PORT: {{ $v.service.port | quote }}
VELLET_WALLET_INTERNAL_PORT: {{ $v.service.internalPort | quote }}
VELLET_BANK_URL: {{ include "vellet.url" (dict "root" $root "component" "bank") | quote }}
VELLET_WALLET_POOL_SIZE: {{ $v.poolSize | quote }}
VELLET_COOKIE_SECURE: {{ $v.cookieSecure | quote }}
VELLET_SESSION_TTL: {{ $v.sessionTTL | quote }}
VELLET_TRUSTED_PROXIES: {{ join "," $v.trustedProxies | quote }}
{{- /* In a cluster the operator re-drives stuck transfers; the wallet's own timer
       runs only when there is no operator. */}}
VELLET_WALLET_RECONCILER: {{ not $values.operator.enabled | quote }}
{{- else if eq .component "bank" }}
VELLET_BANK_HOST: {{ $host | quote }}
VELLET_BANK_PORT: {{ $v.service.port | quote }}
VELLET_BANK_INTERNAL_PORT: {{ $v.service.internalPort | quote }}
VELLET_BANK_POOL_SIZE: {{ $v.poolSize | quote }}
{{- /* The bank mails sign-up codes to the address it holds on file, through the same
       relay as the notifier (a real bank would use its own). */}}
{{- $smtp := $values.notifier.smtp }}
{{- with $smtp.host }}
VELLET_BANK_SMTP_HOST: {{ . | quote }}
{{- end }}
VELLET_BANK_SMTP_PORT: {{ $smtp.port | quote }}
VELLET_BANK_SMTP_SECURITY: {{ $smtp.security | quote }}
{{- with $smtp.user }}
VELLET_BANK_SMTP_USER: {{ . | quote }}
{{- end }}
VELLET_BANK_SMTP_VERIFY_TLS: {{ $smtp.verifyTLS | quote }}
{{- else if eq .component "notifier" }}
VELLET_NOTIFIER_HOST: {{ $host | quote }}
VELLET_NOTIFIER_PORT: {{ $v.service.port | quote }}
{{- with $v.smtp.host }}
VELLET_SMTP_HOST: {{ . | quote }}
{{- end }}
VELLET_SMTP_PORT: {{ $v.smtp.port | quote }}
VELLET_SMTP_SECURITY: {{ $v.smtp.security | quote }}
{{- with $v.smtp.user }}
VELLET_SMTP_USER: {{ . | quote }}
{{- end }}
VELLET_SMTP_FROM: {{ $v.smtp.from | quote }}
VELLET_SMTP_VERIFY_TLS: {{ $v.smtp.verifyTLS | quote }}
{{- else if eq .component "operator" }}
VELLET_OPERATOR_HOST: {{ $host | quote }}
VELLET_OPERATOR_PORT: {{ $v.service.port | quote }}
VELLET_WALLET_INTERNAL_URL: {{ include "vellet.internalUrl" (dict "root" $root "component" "wallet") | quote }}
VELLET_BANK_URL: {{ include "vellet.url" (dict "root" $root "component" "bank") | quote }}
VELLET_OPERATOR_NAMESPACES: {{ include "vellet.operator.namespaces" $root | quote }}
VELLET_OPERATOR_PEERING: {{ ternary $v.peering.name "" $v.peering.enabled | quote }}
VELLET_OPERATOR_SWEEP_API_TRANSFERS: "true"
VELLET_OPERATOR_STUCK_AFTER: {{ $v.stuckAfter | quote }}
VELLET_OPERATOR_TIMER_INTERVAL: {{ $v.timerInterval | quote }}
{{- end }}
{{- end -}}

{{/* Comma-separated namespaces the operator watches; empty when cluster-wide. */}}
{{- define "vellet.operator.namespaces" -}}
{{- $w := .Values.operator.watch -}}
{{- if $w.clusterWide -}}
*
{{- else -}}
{{- join "," (default (list .Release.Namespace) $w.namespaces) -}}
{{- end -}}
{{- end -}}
