#!/usr/bin/env bash
# Real kubectl against a fresh `riasc server`: CRDs and custom resources, re-apply, patches,
# selectors, categories, watch, validation errors, namespace deletion, auth can-i, and a graceful
# stop. Usage: kubectl_test.sh RIASC_BINARY SOURCE_DIR [KUBECTL_DIR]
set -euo pipefail
riasc=$1
source_dir=$2
# An optional folder holding the kubectl to use (e.g. Debian's 1.20 unpacked by tools/setup.sh).
if [ -n "${3:-}" ]; then
  if [ ! -x "$3/kubectl" ]; then
    echo "skipped: no kubectl in $3 (bash tools/setup.sh --test unpacks Debian's kubectl 1.20 there)"
    exit 77
  fi
  export PATH="$3:$PATH"
fi
work=$(mktemp -d)
server_pid=""  # set by start_riasc_server (lib.sh)
cleanup() {
  [ -n "$server_pid" ] && kill -9 "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

source "$(dirname "$0")/lib.sh"
start_riasc_server "$riasc"
echo "kubectl: $(kubectl version --client 2>/dev/null | head -1)"

check "server version" 'v1\.32\.0-riasc' kubectl version
check "built-in CRDs installed" 'trafficprofiles\.k8s-netem\.riasc\.eu' kubectl get crd
check "default namespace" 'default +Active' kubectl get ns
check "apply cluster-scoped CR" 'profile-delay-jitter created' \
  kubectl apply -f "$source_dir/examples/trafficprofile-delay-jitter.yaml"
check "get by shortName with printer columns" 'profile-delay-jitter +Builtin +0\.2' kubectl get tp
check "get -o wide" 'JITTER' kubectl get tp -o wide
check "create namespace" 'namespace/sim-hes-off created' kubectl create namespace sim-hes-off
check "apply namespaced CR" 'schedulerconfig.riasc.eu/mesh created' \
  kubectl apply -f "$source_dir/examples/schedulerconfig-mesh.yaml"
check "get -A" 'sim-hes-off +mesh' kubectl get sc -A
check "category riasc" 'trafficprofile.k8s-netem.riasc.eu/profile-delay-jitter' kubectl get riasc -A
sed 's/delay: 0.2/delay: 0.3/' "$source_dir/examples/trafficprofile-delay-jitter.yaml" >"$work/changed.yaml"
check "re-apply a changed CR" 'configured' kubectl apply -f "$work/changed.yaml"
check "generation bumped on spec change" '^0\.3 2$' \
  kubectl get tp profile-delay-jitter -o 'jsonpath={.spec.parameters.netem.delay} {.metadata.generation}'
check "patch --type merge" 'patched' kubectl patch tp profile-delay-jitter --type merge -p '{"metadata":{"labels":{"lab":"rwth"}}}'
check "patch --type json" 'patched' \
  kubectl patch tp profile-delay-jitter --type json -p '[{"op":"replace","path":"/spec/parameters/netem/loss_ratio","value":0.5}]'
check "label selector" 'profile-delay-jitter' kubectl get tp -l lab=rwth
check "label selector excludes" 'No resources found' kubectl get tp -l lab=elsewhere
check "schema violation is a clear 422" 'spec\.parameters\.netem\.loss_ratio: Invalid value: 2: must be less than or equal to 1' \
  kubectl patch tp profile-delay-jitter --type merge -p '{"spec":{"parameters":{"netem":{"loss_ratio":2}}}}'
check "-o yaml" 'resourceVersion:' kubectl get tp profile-delay-jitter -o yaml
(timeout 6 kubectl get tp -w >"$work/watch.out" 2>&1 || true) &
watcher=$!
sleep 2
kubectl patch tp profile-delay-jitter --type merge -p '{"spec":{"parameters":{"netem":{"delay":0.4}}}}' >/dev/null
wait "$watcher"
check "get -w sees a later change" '0\.4' cat "$work/watch.out"
check "auth can-i for the admin" '^yes' kubectl auth can-i create pods
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: held, finalizers: [riasc.eu/hold]}\n' >"$work/held.yaml"
check "create with a finalizer" 'configmap/held created' kubectl apply -f "$work/held.yaml"
check "delete with a finalizer pending" 'deleted' kubectl delete cm held --wait=false
check "the object stays, Terminating" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T' \
  kubectl get cm held -o 'jsonpath={.metadata.deletionTimestamp}'
check "remove the finalizer" 'patched' \
  kubectl patch cm held --type json -p '[{"op":"remove","path":"/metadata/finalizers"}]'
check "then it is gone" 'NotFound' kubectl get cm held
kubectl create cm owner >/dev/null
owner_uid=$(kubectl get cm owner -o 'jsonpath={.metadata.uid}')
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dependent\n  ownerReferences: [{apiVersion: v1, kind: ConfigMap, name: owner, uid: "%s"}]\n' \
  "$owner_uid" >"$work/dependent.yaml"
check "create a dependent" 'configmap/dependent created' kubectl apply -f "$work/dependent.yaml"
check "delete its owner" 'deleted' kubectl delete cm owner
sleep 1
check "the garbage collector deleted the dependent" 'NotFound' kubectl get cm dependent
# kubectl before 1.26 asks /openapi/v2 whether a kind supports dry runs; ours lists no operations.
if kubectl version --client -o json 2>/dev/null | grep -q '"minor": "\(2[6-9]\|3[0-9]\)'; then
  check "--dry-run=server" 'created \(server dry run\)' kubectl create cm dry --dry-run=server
  check "a server dry run stores nothing" 'NotFound' kubectl get cm dry
fi
check "--field-selector" '^namespace/default$' kubectl get ns --field-selector metadata.name=default -o name
check "unsupported field selector" 'field label not supported: data\.x' kubectl get cm --field-selector data.x=1
kubectl run sim --image=sim --restart=Never >/dev/null
check "kubectl logs before the runtime wrote any" 'waiting to start' kubectl logs sim
mkdir -p "$work/data/logs/default/sim" && printf 'sample 1\nsample 2\n' >"$work/data/logs/default/sim/sim.log"
check "kubectl logs --tail" '^sample 2$' kubectl logs sim --tail=1
# Server-side apply: create, change, a conflict with another manager, --force-conflicts.
sed 's/name: profile-delay-jitter/name: profile-ssa/' "$source_dir/examples/trafficprofile-delay-jitter.yaml" >"$work/ssa.yaml"
check "apply --server-side creates" 'profile-ssa serverside-applied' kubectl apply --server-side -f "$work/ssa.yaml"
check "the Apply entry in managedFields" 'kubectl:Apply' \
  kubectl get tp profile-ssa -o 'jsonpath={range .metadata.managedFields[*]}{.manager}:{.operation} {end}'
sed -i 's/delay: 0.2/delay: 0.25/' "$work/ssa.yaml"
check "apply --server-side changes" 'serverside-applied' kubectl apply --server-side -f "$work/ssa.yaml"
check "the changed value" '^0\.25$' kubectl get tp profile-ssa -o 'jsonpath={.spec.parameters.netem.delay}'
sed -i 's/delay: 0.25/delay: 0.3/' "$work/ssa.yaml"
check "another manager's field is a conflict" 'conflict with "kubectl"' \
  kubectl apply --server-side --field-manager=lab-script -f "$work/ssa.yaml"
check "--force-conflicts takes it over" 'serverside-applied' \
  kubectl apply --server-side --field-manager=lab-script --force-conflicts -f "$work/ssa.yaml"
check "owned by the new manager" '^0\.3$' kubectl get tp profile-ssa -o 'jsonpath={.spec.parameters.netem.delay}'
# Strategic merge patch on a built-in kind: containers merge by name.
printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: two}\nspec:\n  containers:\n  - {name: a, image: sim}\n  - {name: b, image: ctrl}\n' >"$work/two.yaml"
kubectl apply -f "$work/two.yaml" >/dev/null
check "strategic merge patch keeps the other container" '^a=sim b=ctrl:2 ?$' \
  kubectl patch pod two -p '{"spec":{"containers":[{"name":"b","image":"ctrl:2"}]}}' -o 'jsonpath={range .spec.containers[*]}{.name}={.image} {end}'
printf 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: sim, image: sim}]}\n' >"$work/web.yaml"
check "apply a Deployment" 'deployment.apps/web created' kubectl apply -f "$work/web.yaml"
check "kubectl scale (the scale subresource)" 'deployment.apps/web scaled' kubectl scale deployment web --replicas=3
check "scaled replicas" '^3$' kubectl get deployment web -o 'jsonpath={.spec.replicas}'
# kubectl create generators: typed clients, so protobuf bodies from kubectl >= 1.32, JSON before.
check "create deployment" 'deployment.apps/web2 created' kubectl create deployment web2 --image=sim --replicas=2
check "the created Deployment" '^sim 2 web2 (null|<nil>)$' kubectl get deployment web2 \
  -o 'jsonpath={.spec.template.spec.containers[0].image} {.spec.replicas} {.spec.selector.matchLabels.app} {.spec.template.metadata.creationTimestamp}'
check "create secret generic" 'secret/s2 created' kubectl create secret generic s2 --from-literal=a=b --from-literal=c=
check "the created Secret's data" '^Yg== $' kubectl get secret s2 -o 'jsonpath={.data.a} {.data.c}'
check "create serviceaccount" 'serviceaccount/sa2 created' kubectl create serviceaccount sa2
check "the created ServiceAccount" '^sa2$' kubectl get serviceaccount sa2 -o 'jsonpath={.metadata.name}'
check "create role" 'role.rbac.authorization.k8s.io/r2 created' \
  kubectl create role r2 --verb=get --verb=list --resource=pods --resource-name=a
check "the created Role's rules" '^get,list \[\] pods a$' kubectl get role r2 \
  -o 'jsonpath={.rules[0].verbs[0]},{.rules[0].verbs[1]} [{.rules[0].apiGroups[0]}] {.rules[0].resources[0]} {.rules[0].resourceNames[0]}'
check "create rolebinding" 'rolebinding.rbac.authorization.k8s.io/rb2 created' \
  kubectl create rolebinding rb2 --role=r2 --serviceaccount=default:sa2
check "the created RoleBinding" '^ServiceAccount default/sa2 rbac.authorization.k8s.io Role r2$' kubectl get rolebinding rb2 \
  -o 'jsonpath={.subjects[0].kind} {.subjects[0].namespace}/{.subjects[0].name} {.roleRef.apiGroup} {.roleRef.kind} {.roleRef.name}'
check "create clusterrole" 'clusterrole.rbac.authorization.k8s.io/cr2 created' \
  kubectl create clusterrole cr2 --verb=get --non-resource-url=/healthz
check "the created ClusterRole" '^get /healthz$' kubectl get clusterrole cr2 \
  -o 'jsonpath={.rules[0].verbs[0]} {.rules[0].nonResourceURLs[0]}'
check "create clusterrolebinding" 'clusterrolebinding.rbac.authorization.k8s.io/crb2 created' \
  kubectl create clusterrolebinding crb2 --clusterrole=cr2 --user=alice
check "the created ClusterRoleBinding" '^User alice ClusterRole cr2$' kubectl get clusterrolebinding crb2 \
  -o 'jsonpath={.subjects[0].kind} {.subjects[0].name} {.roleRef.kind} {.roleRef.name}'
# Admission webhooks: an unreachable one with failurePolicy Fail refuses what it matches.
cat >"$work/webhook.yaml" <<'YAML'
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: unreachable}
webhooks:
  - name: unreachable.riasc.example.com
    clientConfig: {url: "https://127.0.0.1:1/validate"}
    rules: [{operations: [CREATE], apiGroups: [""], apiVersions: [v1], resources: [configmaps]}]
    sideEffects: None
    admissionReviewVersions: [v1]
YAML
sed 's|https://|http://|' "$work/webhook.yaml" >"$work/webhook-http.yaml"
check "a webhook configuration with an http URL" 'webhooks\[0\]\.clientConfig\.url: Invalid value' \
  kubectl apply -f "$work/webhook-http.yaml"
check "a webhook configuration" 'validatingwebhookconfiguration.admissionregistration.k8s.io/unreachable created' \
  kubectl apply -f "$work/webhook.yaml"
check "an unreachable webhook refuses" 'failed calling webhook "unreachable.riasc.example.com"' \
  kubectl create configmap refused
check "delete the webhook configuration" 'deleted' kubectl delete validatingwebhookconfiguration unreachable
check "without it the create goes through" 'configmap/refused created' kubectl create configmap refused
check "delete" 'deleted' kubectl delete tp profile-delay-jitter
check "deleted is gone" 'NotFound' kubectl get tp profile-delay-jitter
check "delete namespace" 'deleted' kubectl delete namespace sim-hes-off
check "namespace content deleted" 'No resources found' kubectl get sc -A
check "/metrics counts requests" 'apiserver_request_total\{verb="LIST",resource="trafficprofiles",code="200"\} [1-9]' \
  kubectl get --raw /metrics
check "/metrics has the store revision" 'riasc_store_revision [1-9]' kubectl get --raw /metrics
check "unknown resource" "doesn't have a resource type" kubectl get widgets

kill -TERM "$server_pid"
if wait "$server_pid"; then passed=$((passed + 1)); else
  failed=$((failed + 1))
  echo "FAILED: the server did not stop cleanly on SIGTERM"
fi
server_pid=""
grep -q '"msg":"stopped"' "$work/server.log" && passed=$((passed + 1)) || {
  failed=$((failed + 1))
  echo "FAILED: no stopped log line"; cat "$work/server.log"
}
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
