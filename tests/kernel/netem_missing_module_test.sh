#!/usr/bin/env bash
# On a kernel without sch_netem or sch_prio (this project's CI hosts): the agent reports
# Applied=False with reason KernelModuleMissing and a message naming the module, keeps running
# and healthy, and leaves the pod's network as it was.
#   netem_missing_module_test.sh RIASC_BINARY
set -uo pipefail
riasc=$(realpath "$1")
here=$(dirname "$(realpath "$0")")
[ "$(id -u)" = 0 ] || { echo "SKIPPED: needs root (network namespaces)"; exit 77; }
if modprobe -q sch_netem 2>/dev/null && modprobe -q sch_prio 2>/dev/null; then
  echo "SKIPPED: this kernel has sch_netem and sch_prio; the vm tests cover shaping"
  exit 77
fi

work=$(mktemp -d)
# shellcheck source=tests/integration/lib.sh
source "$here/../integration/lib.sh"
agent_pid=""
cleanup() {
  [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  ip netns del riasc-missing 2>/dev/null
  ip link del v-riasc-missing 2>/dev/null
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

ip netns add riasc-missing
ip link add v-riasc-missing type veth peer name eth0 netns riasc-missing
ip link set v-riasc-missing up
ip -n riasc-missing link set eth0 up
ip -n riasc-missing addr add 10.77.0.2/24 dev eth0
ip -n riasc-missing route add default via 10.77.0.1
before=$(ip netns exec riasc-missing tc qdisc show dev eth0)

start_riasc_server "$riasc"
kubectl apply -f - >/dev/null <<'JSON'
{"apiVersion": "v1", "kind": "Pod",
 "metadata": {"name": "ctrl", "namespace": "default", "labels": {"application": "py_ctrl"},
              "annotations": {"riasc.eu/netns": "/run/netns/riasc-missing"}},
 "spec": {"nodeName": "node-a", "containers": [{"name": "main", "image": "lab/ctrl"}]}}
JSON
"$riasc" agent --node node-a --backend kernel --probe-port 19102 --probe-address 127.0.0.1 >"$work/agent.log" 2>&1 &
agent_pid=$!
kubectl apply -f "$here/../../examples/trafficprofile-delay-jitter.yaml" >/dev/null

eventually "Applied=False with reason KernelModuleMissing" '^False KernelModuleMissing$' \
  kubectl get tp profile-delay-jitter -o jsonpath='{.status.conditions[?(@.type=="Applied")].status} {.status.conditions[?(@.type=="Applied")].reason}'
check "the message names the module" 'lacks sch_(netem|prio)' \
  kubectl get tp profile-delay-jitter -o jsonpath='{.status.conditions[?(@.type=="Applied")].message}'
check "Degraded=True" '^True$' \
  kubectl get tp profile-delay-jitter -o jsonpath='{.status.conditions[?(@.type=="Degraded")].status}'
check "the node entry says why" 'node-a 0 1 KernelModuleMissing' \
  kubectl get tp profile-delay-jitter -o jsonpath='{.status.nodes[0].name} {.status.nodes[0].appliedPods} {.status.nodes[0].matchedPods} {.status.nodes[0].reason}'
sleep 1
check "the agent still runs" '^running$' sh -c "kill -0 $agent_pid && echo running"
check "the agent is healthy" '^ok' curl -fsS http://127.0.0.1:19102/healthz
check "its metrics count the failure" 'riasc_agent_apply_failures_total [1-9]' curl -fsS http://127.0.0.1:19102/metrics
check "the pod's qdisc is as it was" "^$(head -1 <<<"$before")" ip netns exec riasc-missing tc qdisc show dev eth0
check "no rules were left" '^0$' sh -c "ip netns exec riasc-missing nft list tables 2>/dev/null | grep -c riasc"
[ "$failed" -gt 0 ] && { echo "--- agent log"; tail -30 "$work/agent.log"; }
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
