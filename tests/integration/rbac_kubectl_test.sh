#!/usr/bin/env bash
# RBAC with real kubectl: a token user gets what a Role grants in one namespace and kube's 403
# elsewhere; `kubectl auth can-i` (exit codes) and `--list` follow; an escalation is refused.
# Usage: rbac_kubectl_test.sh RIASC_BINARY
set -euo pipefail
riasc=$1
work=$(mktemp -d)
server_pid=""  # set by start_riasc_server (lib.sh)
cleanup() {
  [ -n "$server_pid" ] && kill -9 "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

source "$(dirname "$0")/lib.sh"
echo 'alice-token-7d1e,alice,u-alice,"lab"' >"$work/tokens.csv"
start_riasc_server "$riasc" --token-auth-file "$work/tokens.csv"
kubectl config set-credentials alice --token=alice-token-7d1e >/dev/null
kubectl config set-context alice --cluster=riasc --user=alice >/dev/null
# can_i ARGS...: alice's `kubectl auth can-i ARGS` exit code as "exit yes" or "exit no" (a script,
# since check runs its command under timeout, which cannot call shell functions).
cat >"$work/can_i" <<'SCRIPT'
#!/usr/bin/env bash
if kubectl --context alice auth can-i "$@" >/dev/null 2>&1; then echo "exit yes"; else echo "exit no"; fi
SCRIPT
chmod +x "$work/can_i"

check "admin creates namespaces" 'namespace/team created' kubectl create namespace team
kubectl create namespace other >/dev/null
check "admin creates a configmap" 'configmap/settings created' kubectl -n team create configmap settings --from-literal=a=1
check "admin creates a role" 'role.rbac.authorization.k8s.io/reader created' \
  kubectl -n team create role reader --verb=get,list,watch --resource=configmaps,pods
check "admin binds it to alice" 'rolebinding.rbac.authorization.k8s.io/alice-reads created' \
  kubectl -n team create rolebinding alice-reads --role=reader --user=alice

check "alice gets in her namespace" 'settings' kubectl --context alice -n team get configmap settings
check "alice lists in her namespace" 'settings +1' kubectl --context alice -n team get configmaps
check "403 in another namespace, as kube words it" \
  '^Error from server \(Forbidden\): configmaps is forbidden: User "alice" cannot list resource "configmaps" in API group "" in the namespace "other"$' \
  kubectl --context alice -n other get configmaps
check "403 for a write she lacks" \
  'configmaps "settings" is forbidden: User "alice" cannot delete resource "configmaps" in API group "" in the namespace "team"' \
  kubectl --context alice -n team delete configmap settings
check "403 at the cluster scope" \
  'nodes is forbidden: User "alice" cannot list resource "nodes" in API group "" at the cluster scope' \
  kubectl --context alice get nodes
check "403 for a path" 'forbidden: User "alice" cannot get path "/metrics"' kubectl --context alice get --raw /metrics
check "the denial is logged without the token" '"msg":"forbidden","user":"alice"' cat "$work/server.log"
check "no token in the log" '^absent$' bash -c "grep -q alice-token-7d1e '$work/server.log' && echo present || echo absent"

check "can-i yes" '^yes' kubectl --context alice auth can-i list configmaps -n team
check "can-i yes: exit 0" 'exit yes' "$work/can_i" get pods -n team
check "can-i no: exit 1" 'exit no' "$work/can_i" get pods -n other
check "can-i no for delete" 'exit no' "$work/can_i" delete configmaps -n team
check "can-i a path" 'exit no' "$work/can_i" get /metrics
check "can-i --list" 'configmaps +\[\] +\[\] +\[get list watch\]' kubectl --context alice auth can-i --list -n team
check "can-i --list shows the review rights" 'selfsubjectaccessreviews.authorization.k8s.io' \
  kubectl --context alice auth can-i --list -n team
check "admin can-i anything" '^yes' kubectl auth can-i delete nodes

kubectl -n team create role role-maker --verb=create --resource=roles.rbac.authorization.k8s.io,rolebindings.rbac.authorization.k8s.io >/dev/null
kubectl -n team create rolebinding alice-makes-roles --role=role-maker --user=alice >/dev/null
check "escalation refused" \
  'roles.rbac.authorization.k8s.io "greedy" is forbidden: user "alice" \(groups=\["lab" "system:authenticated"\]\) is attempting to grant RBAC permissions not currently held' \
  kubectl --context alice -n team create role greedy --verb=get --resource=secrets
kubectl -n team create rolebinding alice-admin --clusterrole=admin --user=alice >/dev/null
check "with admin, a role within her rights" 'role.rbac.authorization.k8s.io/modest created' \
  kubectl --context alice -n team create role modest --verb=get --resource=secrets
check "but not a binding to cluster-admin" \
  'rolebindings.rbac.authorization.k8s.io "grab" is forbidden: user "alice"' \
  kubectl --context alice -n team create rolebinding grab --clusterrole=cluster-admin --user=alice

kill -TERM "$server_pid"
wait "$server_pid" || true
server_pid=""
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
