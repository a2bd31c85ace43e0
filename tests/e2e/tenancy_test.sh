#!/usr/bin/env bash
# Multi-tenancy end to end, the way a lab's users meet it: `riasc up` with two Projects, a
# kubeconfig per user from `riasc user add`, and real kubectl as each user. A member of project
# alpha works in alpha and is refused (403, with kube-apiserver's words) everywhere else; pods land
# on the project's node, and pods that ask for another node, or one pod too many, are refused at
# admission; removing a user revokes access at once; ServiceAccount tokens work until they expire
# or their ServiceAccount goes; no token ever reaches a log.
#   tenancy_test.sh RIASC_BINARY
set -uo pipefail
riasc=$(realpath "$1")
here=$(dirname "$(realpath "$0")")
root=$(realpath "$here/../..")
[ "$(id -u)" = 0 ] || { echo "SKIPPED: needs root (riasc up runs pods in network namespaces)"; exit 77; }

work=$(mktemp -d)
# shellcheck source=tests/integration/lib.sh
source "$root/tests/integration/lib.sh"
data="$work/data"
bridge=riasc-tenancy
up_pid=""
cleanup() {
  [ -n "$up_pid" ] && kill "$up_pid" 2>/dev/null && wait "$up_pid" 2>/dev/null
  ip link del "$bridge" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/experiment"
cat >"$work/experiment/projects.yaml" <<'YAML'
apiVersion: riasc.eu/v1
kind: Project
metadata: {name: alpha}
spec:
  users: [alice]
  nodes: [lab-a]
  limits: {pods: 3}
---
apiVersion: riasc.eu/v1
kind: Project
metadata: {name: beta}
spec:
  users: [bob]
  nodes: [lab-b]
---
# A second lab's node: registered, but no runtime runs its pods here.
apiVersion: v1
kind: Node
metadata: {name: lab-b}
YAML

"$riasc" up --data-dir "$data" --listen 127.0.0.1:0 --bridge "$bridge" --pod-cidr 10.77.0.0/24 \
  --node lab-a "$work/experiment" >"$work/up.out" 2>"$work/up.err" &
up_pid=$!
for _ in $(seq 100); do
  grep -q "ready in" "$work/up.err" 2>/dev/null && break
  sleep 0.1
done
export HOME="$work"
# kubectl as each user (commands, not functions: check runs them under timeout).
mkdir -p "$work/bin"
for user in alice bob; do
  printf '#!/bin/sh\nexec kubectl --kubeconfig "%s" "$@"\n' "$data/users/$user.kubeconfig" >"$work/bin/$user"
done
printf '#!/bin/sh\nexec kubectl --kubeconfig "%s" "$@"\n' "$data/kubeconfig" >"$work/bin/admin"
chmod +x "$work"/bin/*
export PATH="$work/bin:$PATH"

check "riasc user add writes a kubeconfig" "wrote .*alice.kubeconfig for user alice" \
  "$riasc" user add alice --data-dir "$data"
check "riasc user add with a group" "groups: lab-b-staff" "$riasc" user add bob --group lab-b-staff --data-dir "$data"
check "a reserved user name is refused" 'user name "system:admin": names starting with system: are reserved' \
  "$riasc" user add system:admin --data-dir "$data"
check "the kubeconfig is the user's only" "^600$" stat -c %a "$data/users/alice.kubeconfig"

eventually "project alpha is ready" "True" admin get project alpha -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'
eventually "project beta is ready" "True" admin get project beta -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'

pod() {  # pod NAME [EXTRA SPEC LINE]: the file of a pod that sleeps
  printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: %s}\nspec:\n  %s\n  containers:\n  - {name: main, image: debian, command: [sleep, "600"]}\n' \
    "$1" "${2:-}" >"$work/$1.yaml"
  echo "$work/$1.yaml"
}

# --- a member works in the project's namespace ---------------------------------------------------
check "alice creates a pod in alpha" "pod/work created" alice -n alpha apply -f "$(pod work)"
check "the pod got the project's node selector" '"project.riasc.eu/alpha":""' \
  alice -n alpha get pod work -o 'jsonpath={.spec.nodeSelector}'
eventually "the pod runs on the project's node" "Running lab-a" \
  alice -n alpha get pod work -o 'jsonpath={.status.phase} {.spec.nodeName}'
check "alice reads the pod's log" "" alice -n alpha logs work
check "alice lists pods in alpha" "work" alice -n alpha get pods
check "alice may create pods in alpha" "^yes" alice auth can-i create pods -n alpha
check "alice manages secrets in alpha" "secret/mine created" alice -n alpha create secret generic mine --from-literal=a=b

# --- and nowhere else ----------------------------------------------------------------------------
check "alice may not list pods in beta" \
  'pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "beta"' \
  alice -n beta get pods
check "alice may not create pods in beta" 'User "alice" cannot create resource "pods"' \
  alice -n beta create -f "$(pod intruder)"
admin -n beta create secret generic beta-only --from-literal=password=hunter2 >/dev/null
check "alice may not read beta's secrets" \
  'secrets "beta-only" is forbidden: User "alice" cannot get resource "secrets" in API group "" in the namespace "beta"' \
  alice -n beta get secret beta-only
check "alice may not list nodes" 'nodes is forbidden: User "alice" cannot list resource "nodes" in API group "" at the cluster scope' \
  alice get nodes
check "alice may not list namespaces" 'User "alice" cannot list resource "namespaces"' alice get namespaces
check "auth can-i says no in beta" "^no" alice auth can-i create pods -n beta
check "auth can-i says no for nodes" "^no" alice auth can-i list nodes
check "bob may in beta" "^yes" bob auth can-i create pods -n beta
check "bob may not in alpha" "^no" bob auth can-i get pods -n alpha
check "can-i --list shows alice's rules in alpha" "pods .*\[\*\]|pods +\[\] +\[\] +\[.*create" alice auth can-i --list -n alpha

# --- admission: the project's nodes and limits ---------------------------------------------------
check "a pod asking for another node by name is refused" 'spec.nodeName lab-b is not one of the project.s nodes \(lab-a\)' \
  alice -n alpha apply -f "$(pod elsewhere 'nodeName: lab-b')"
check "a conflicting node selector is refused" 'project.riasc.eu/alpha' \
  alice -n alpha apply -f "$(pod conflict 'nodeSelector: {project.riasc.eu/alpha: other}')"
for n in 2 3; do
  check "pod $n of 3 is admitted" "pod/extra$n created" \
    alice -n alpha apply -f "$(pod extra$n)"
done
check "a fourth pod is refused at admission" "(limit|at most).*3" \
  alice -n alpha apply -f "$(pod extra4)"
check "and was never stored" "NotFound|not found" admin -n alpha get pod extra4

# --- no escalation -------------------------------------------------------------------------------
check "alice cannot bind herself to cluster-admin" "forbidden.*(escalat|not currently held)" \
  alice -n alpha create rolebinding grab --clusterrole cluster-admin --user alice
check "alice cannot create a ClusterRoleBinding" 'cannot create resource "clusterrolebindings"' \
  alice create clusterrolebinding grab --clusterrole cluster-admin --user alice
check "alice cannot write a Role beyond her rights" "forbidden.*(escalat|not currently held)" \
  alice -n alpha create role nodes --verb get --resource nodes
check "alice cannot edit her project" 'projects.riasc.eu "alpha" is forbidden: User "alice" cannot (get|patch) resource "projects"' \
  alice patch project alpha --type merge -p '{"spec":{"nodes":["lab-a","lab-b"]}}'
check "alice may share alpha with a colleague" "rolebinding.rbac.authorization.k8s.io/carol created" \
  alice -n alpha create rolebinding carol --clusterrole edit --user carol

# --- ServiceAccount tokens -----------------------------------------------------------------------
admin -n alpha create serviceaccount robot >/dev/null
admin -n alpha create rolebinding robot-view --clusterrole view --serviceaccount alpha:robot >/dev/null
token=$(admin -n alpha create token robot --duration 10m)
server=$(admin config view --raw -o 'jsonpath={.clusters[0].cluster.server}')
admin config view --raw -o 'jsonpath={.clusters[0].cluster.certificate-authority-data}' | base64 -d >"$work/ca.crt"
printf '#!/bin/sh\ntoken=$1; shift\nexec kubectl --kubeconfig /dev/null --server "%s" --certificate-authority "%s" --token "$token" "$@"\n' \
  "$server" "$work/ca.crt" >"$work/bin/with-token"
chmod +x "$work/bin/with-token"
check "a ServiceAccount token reads what its binding allows" "work" with-token "$token" -n alpha get pods
check "and no more" 'User "system:serviceaccount:alpha:robot" cannot create resource "secrets"' \
  with-token "$token" -n alpha create secret generic x --from-literal=a=b
tampered=${token:0:40}$([ "${token:40:1}" = A ] && echo B || echo A)${token:41}
check "a tampered token gets 401" "Unauthorized" with-token "$tampered" -n alpha get pods
check "a made-up token gets 401" "Unauthorized" with-token not-a-token get pods
# A token the server signed that has expired: signed with the server's own key, exp in the past.
expired=$(python3 - "$data/pki/service-account.key" "$(admin -n alpha get sa robot -o 'jsonpath={.metadata.uid}')" <<'PY'
import base64, json, subprocess, sys, time
def b64(data): return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
issuer = "https://kubernetes.default.svc.cluster.local"
now = int(time.time())
header = {"alg": "ES256"}
claims = {"iss": issuer, "aud": [issuer], "iat": now - 7200, "nbf": now - 7200, "exp": now - 3600,
          "sub": "system:serviceaccount:alpha:robot",
          "kubernetes.io": {"namespace": "alpha", "serviceaccount": {"name": "robot", "uid": sys.argv[2]}}}
signed = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
der = subprocess.run(["openssl", "dgst", "-sha256", "-sign", sys.argv[1]], input=signed.encode(),
                     capture_output=True, check=True).stdout
# DER SEQUENCE { INTEGER r, INTEGER s } -> r||s, 32 bytes each
def integer(data, at):
    assert data[at] == 2
    length = data[at + 1]
    return data[at + 2:at + 2 + length], at + 2 + length
at = 2 if der[1] < 0x80 else 3
r, at = integer(der, at)
s, _ = integer(der, at)
raw = r.lstrip(b"\0").rjust(32, b"\0") + s.lstrip(b"\0").rjust(32, b"\0")
print(signed + "." + b64(raw))
PY
)
check "an expired token gets 401" "Unauthorized" with-token "$expired" -n alpha get pods
admin -n alpha delete serviceaccount robot >/dev/null
check "deleting the ServiceAccount revokes its token" "Unauthorized" with-token "$token" -n alpha get pods

# --- a node joins a project: the pods waiting for one start ------------------------------------
check "bob creates a pod in beta" "pod/waiting created" bob -n beta create -f "$(pod waiting)"
check "it waits: no runtime runs beta's node here" "Pending" bob -n beta get pod waiting -o 'jsonpath={.status.phase}'
admin patch project beta --type merge -p '{"spec":{"nodes":["lab-b","lab-a"]}}' >/dev/null
eventually "once lab-a joins beta, the waiting pod runs there" "Running lab-a" \
  bob -n beta get pod waiting -o 'jsonpath={.status.phase} {.spec.nodeName}'

# --- revocation ----------------------------------------------------------------------------------
check "alice still works in alpha" "work" alice -n alpha get pods
started=$(date +%s%N)
admin patch project alpha --type merge -p '{"spec":{"users":[]}}' >/dev/null
eventually "removing alice from alpha revokes her access" "forbidden" alice -n alpha get pods
echo "access revoked $(( ($(date +%s%N) - started) / 1000000 )) ms after the Project changed"
check "auth can-i agrees" "^no" alice auth can-i get pods -n alpha

# --- no token in any log ---------------------------------------------------------------------------
leaks=$(grep -rlF -e "$token" -e "$expired" "$data" "$work/up.out" "$work/up.err" 2>/dev/null)
if [ -z "$leaks" ]; then passed=$((passed + 1)); else fail "a token was written to: $leaks"; fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
