{{/*
One Deployment in the shape every component shares. Called with
(dict "root" $ "component" "wallet" "args" (list ...) "env" "<yaml>" "initContainers" "<yaml>"
      "automountToken" false "strategy" "<yaml>" "skips" (dict ...)).
The component's own values block has the same keys for every component (values.yaml).
*/}}
{{- define "vellet.deployment" -}}
{{- $root := .root -}}
{{- $v := index $root.Values .component -}}
{{- $ctx := dict "root" $root "component" .component -}}
{{- $port := $v.service.port -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "vellet.componentName" $ctx }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "vellet.componentLabels" $ctx | nindent 4 }}
  annotations:
    {{- /* checkov reads skips from the object's annotations; each says why. */}}
    checkov.io/skip1: CKV_K8S_43=The image is pinned by tag per release; set image.digest to pin by digest.
    checkov.io/skip2: CKV_K8S_15=IfNotPresent is right for immutable release tags and digests; imagePullPolicy is a value.
    checkov.io/skip3: CKV_K8S_35=Vellet reads its settings, secrets included, from environment variables by design (12-factor); they come from secretKeyRef, never literals.
    {{- range $i, $skip := .skips }}
    checkov.io/skip{{ add 4 $i }}: {{ $skip | quote }}
    {{- end }}
spec:
  {{- if not (and (hasKey $v "autoscaling") $v.autoscaling.enabled) }}
  replicas: {{ $v.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
  {{- with .strategy }}
  strategy:
    {{- . | nindent 4 }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "vellet.componentSelectorLabels" $ctx | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "vellet.componentLabels" $ctx | nindent 8 }}
        {{- with $v.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        checksum/config: {{ include "vellet.configData" $ctx | sha256sum }}
        {{- with $v.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "vellet.serviceAccountName" $ctx }}
      automountServiceAccountToken: {{ .automountToken }}
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      {{- with $v.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      {{- with $v.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- if $v.topologySpreadConstraints }}
      topologySpreadConstraints:
        {{- range $v.topologySpreadConstraints }}
        {{- $c := . }}
        {{- if not (hasKey $c "labelSelector") }}
        {{- $c = merge (dict "labelSelector" (dict "matchLabels" (include "vellet.componentSelectorLabels" $ctx | fromYaml))) $c }}
        {{- end }}
        - {{- toYaml $c | nindent 10 }}
        {{- end }}
      {{- end }}
      {{- with .initContainers }}
      initContainers:
        {{- . | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ .component }}
          image: {{ include "vellet.image" $root }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args:
            {{- toYaml .args | nindent 12 }}
          ports:
            - name: http
              containerPort: {{ $port }}
              protocol: TCP
            {{- with $v.service.internalPort }}
            - name: internal
              containerPort: {{ . }}
              protocol: TCP
            {{- end }}
          envFrom:
            - configMapRef:
                name: {{ include "vellet.componentName" $ctx }}
            {{- with $v.extraEnvFrom }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          env:
            - name: VELLET_CONSUMER_NAME
              valueFrom:
                fieldRef:
                  fieldPath: metadata.name
            {{- with (.env | default "" | trim) }}
            {{- . | nindent 12 }}
            {{- end }}
            {{- with $v.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          {{- $probe := dict "httpGet" (dict "path" "/healthz" "port" "http") }}
          livenessProbe:
            {{- toYaml (merge (omit $v.livenessProbe "enabled") $probe) | nindent 12 }}
          {{- if or (not (hasKey $v.readinessProbe "enabled")) $v.readinessProbe.enabled }}
          readinessProbe:
            {{- toYaml (merge (omit $v.readinessProbe "enabled") (dict "httpGet" (dict "path" "/readyz" "port" "http"))) | nindent 12 }}
          {{- end }}
          startupProbe:
            {{- toYaml (merge (omit $v.startupProbe "enabled") $probe) | nindent 12 }}
          resources:
            {{- toYaml $v.resources | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.containerSecurityContext | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- include "vellet.keyMount" $ctx | nindent 12 }}
            {{- with include "vellet.caMounts" $root | trim }}{{ . | nindent 12 }}{{- end }}
            {{- with $v.extraVolumeMounts }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: 64Mi
        {{- include "vellet.keyVolume" $ctx | nindent 8 }}
        {{- with include "vellet.caVolumes" $root | trim }}{{ . | nindent 8 }}{{- end }}
        {{- with $v.extraVolumes }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
{{- end -}}

{{/* An init container running one `vellet` command with the component's settings. */}}
{{- define "vellet.initContainer" -}}
{{- $root := .root -}}
{{- $v := index $root.Values .component -}}
{{- $ctx := dict "root" $root "component" .component -}}
- name: {{ .name }}
  image: {{ include "vellet.image" $root }}
  imagePullPolicy: {{ $root.Values.image.pullPolicy }}
  args:
    {{- toYaml .args | nindent 4 }}
  envFrom:
    - configMapRef:
        name: {{ include "vellet.componentName" $ctx }}
  env:
    {{- .env | trim | nindent 4 }}
  resources:
    {{- toYaml $v.resources | nindent 4 }}
  securityContext:
    {{- toYaml $root.Values.containerSecurityContext | nindent 4 }}
  volumeMounts:
    - name: tmp
      mountPath: /tmp
    {{- include "vellet.keyMount" $ctx | nindent 4 }}
    {{- with include "vellet.caMounts" $root | trim }}{{ . | nindent 4 }}{{- end }}
{{- end -}}

{{/* Service, ServiceAccount, PDB and HPA of a component: the same shape for each. */}}
{{- define "vellet.service" -}}
{{- $root := .root -}}
{{- $v := index $root.Values .component -}}
{{- $ctx := dict "root" $root "component" .component -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "vellet.componentName" $ctx }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "vellet.componentLabels" $ctx | nindent 4 }}
  {{- with $v.service.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: {{ $v.service.type }}
  selector:
    {{- include "vellet.componentSelectorLabels" $ctx | nindent 4 }}
  ports:
    - name: http
      port: {{ $v.service.port }}
      targetPort: http
      protocol: TCP
    {{- with $v.service.internalPort }}
    {{- /* The internal API / admin routes and /metrics: the NetworkPolicy, not the
           Service, keeps it to the operator and Prometheus; the ingress never routes here. */}}
    - name: internal
      port: {{ . }}
      targetPort: internal
      protocol: TCP
    {{- end }}
{{- end -}}

{{- define "vellet.serviceAccount" -}}
{{- $root := .root -}}
{{- $v := index $root.Values .component -}}
{{- $ctx := dict "root" $root "component" .component -}}
{{- if $v.serviceAccount.create -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "vellet.serviceAccountName" $ctx }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "vellet.componentLabels" $ctx | nindent 4 }}
  {{- with $v.serviceAccount.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
automountServiceAccountToken: {{ .automountToken }}
{{- end -}}
{{- end -}}

{{- define "vellet.pdb" -}}
{{- $root := .root -}}
{{- $v := index $root.Values .component -}}
{{- $ctx := dict "root" $root "component" .component -}}
{{- if $v.podDisruptionBudget.enabled -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "vellet.componentName" $ctx }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "vellet.componentLabels" $ctx | nindent 4 }}
spec:
  {{- if not (eq (toString $v.podDisruptionBudget.minAvailable) "") }}
  minAvailable: {{ $v.podDisruptionBudget.minAvailable }}
  {{- else }}
  maxUnavailable: {{ $v.podDisruptionBudget.maxUnavailable }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "vellet.componentSelectorLabels" $ctx | nindent 6 }}
{{- end -}}
{{- end -}}

{{- define "vellet.hpa" -}}
{{- $root := .root -}}
{{- $v := index $root.Values .component -}}
{{- $ctx := dict "root" $root "component" .component -}}
{{- if $v.autoscaling.enabled -}}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "vellet.componentName" $ctx }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "vellet.componentLabels" $ctx | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "vellet.componentName" $ctx }}
  minReplicas: {{ $v.autoscaling.minReplicas }}
  maxReplicas: {{ $v.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $v.autoscaling.targetCPUUtilizationPercentage }}
    {{- if $v.autoscaling.targetMemoryUtilizationPercentage }}
    - type: Resource
      resource:
        name: memory
        target:
          type: Utilization
          averageUtilization: {{ $v.autoscaling.targetMemoryUtilizationPercentage }}
    {{- end }}
{{- end -}}
{{- end -}}

{{/* A component's Service, ServiceAccount, PDB and HPA (those that are on), as documents. */}}
{{- define "vellet.componentObjects" -}}
{{- $v := index .root.Values .component -}}
{{- $ctx := dict "root" .root "component" .component -}}
{{- $docs := list (include "vellet.service" $ctx) (include "vellet.serviceAccount" (merge (dict "automountToken" .automountToken) $ctx)) (include "vellet.pdb" $ctx) -}}
{{- if hasKey $v "autoscaling" -}}
{{- $docs = append $docs (include "vellet.hpa" $ctx) -}}
{{- end -}}
{{- range $doc := $docs }}
{{- if $doc }}
---
{{ $doc }}
{{- end }}
{{- end }}
{{- end -}}
