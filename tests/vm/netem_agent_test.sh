#!/usr/bin/env bash
# The network-emulation agent end to end: `riasc server`, `riasc agent --node node-a --backend
# BACKEND`, pods as network namespaces on a bridge, TrafficProfiles applied with kubectl, traffic
# measured with tests/vm/probe.py. The same profiles and expectations for both data planes: the
# kernel backend needs sch_netem (the project's VM, or a host that has the modules); the userspace
# engine runs on any kernel with nf_tables and TUN (this host).
#   netem_agent_test.sh RIASC_BINARY [kernel|userspace]
# Exit 77 (skipped) where the kernel lacks what the backend needs, outside the VM.
set -uo pipefail
# Debian's python3 (with python3-kubernetes) before any other on PATH, such as a pyenv shim.
export PATH="/usr/bin:/bin:/usr/sbin:/sbin:$PATH"
riasc=$(realpath "$1")
backend=${2:-kernel}
here=$(dirname "$(realpath "$0")")
probe="$here/probe.py"

need_modules() {
  local missing=()
  if [ "$backend" = userspace ]; then
    # Often built in (no /sys/module entry): ask for the devices themselves.
    [ -c /dev/net/tun ] || missing+=(tun)
    nft list tables >/dev/null 2>&1 || missing+=(nf_tables)
  fi
  [ "$backend" = kernel ] && for module in sch_netem sch_prio cls_fw ifb act_mirred cls_matchall sch_ingress nf_tables; do
    modprobe -q "$module" 2>/dev/null || [ -d "/sys/module/$module" ] || missing+=("$module")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "${RIASC_VM:-}" = 1 ]; then
    echo "FAILED: the VM's kernel lacks ${missing[*]}"
    exit 1
  fi
  echo "SKIPPED: this kernel lacks ${missing[*]}; run it in the VM: make vm-test"
  exit 77
}
[ "$(id -u)" = 0 ] || { echo "SKIPPED: needs root (network namespaces)"; exit 77; }
need_modules

work=$(mktemp -d)
# shellcheck source=tests/integration/lib.sh
source "$here/../integration/lib.sh"
agent_pid=""
pods=()
cleanup() {
  [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  for pod in "${pods[@]}"; do ip netns pids "$pod" 2>/dev/null | xargs -r kill 2>/dev/null; ip netns del "$pod" 2>/dev/null; done
  ip link del br-riasc 2>/dev/null
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

ip link add br-riasc type bridge && ip link set br-riasc up
ip addr add 10.42.0.1/24 dev br-riasc
ip addr add fd00:42::1/64 dev br-riasc nodad

# add_pod NAME INDEX LABELS_JSON [ANNOTATE]: a namespace on the bridge with 10.42.0.INDEX and
# fd00:42::INDEX, a UDP echo on ports 7 and 5000, and a Pod object on node-a with those IPs.
# With ANNOTATE=no the agent must find the namespace by the pod's IP.
add_pod() {
  local name=$1 index=$2 labels=$3 annotate=${4:-yes}
  ip netns add "$name"
  pods+=("$name")
  ip link add "v-$name" type veth peer name eth0 netns "$name"
  ip link set "v-$name" master br-riasc up
  ip -n "$name" link set lo up
  ip -n "$name" link set eth0 up
  ip -n "$name" addr add "10.42.0.$index/24" dev eth0
  ip -n "$name" addr add "fd00:42::$index/64" dev eth0 nodad
  ip -n "$name" route add default via 10.42.0.1
  ip -n "$name" -6 route add default via fd00:42::1
  ip netns exec "$name" python3 "$probe" echo 7 &
  ip netns exec "$name" python3 "$probe" echo 5000 &
  local annotations='{}'
  [ "$annotate" = yes ] && annotations="{\"riasc.eu/netns\": \"/run/netns/$name\"}"
  kubectl apply -f - >/dev/null <<JSON
{"apiVersion": "v1", "kind": "Pod",
 "metadata": {"name": "$name", "namespace": "lab", "labels": $labels, "annotations": $annotations},
 "spec": {"nodeName": "node-a", "containers": [{"name": "main", "image": "lab/$name"}]}}
JSON
  python3 - "$name" "$index" >"$work/ip-given-$name" <<'PY'
import sys
from kubernetes import client, config
config.load_kube_config()
name, index = sys.argv[1], sys.argv[2]
ips = [{"ip": f"10.42.0.{index}"}, {"ip": f"fd00:42::{index}"}]
client.CoreV1Api().patch_namespaced_pod_status(name, "lab", {"status": {
    "phase": "Running", "podIP": ips[0]["ip"], "podIPs": ips}})
import time
print(f"{time.time():.6f}")
PY
}

start_agent() {
  "$riasc" agent --node node-a --backend "$backend" --probe-port 19107 --probe-address 127.0.0.1 --verbose \
    >>"$work/agent.log" 2>&1 &
  agent_pid=$!
}

# pin_neighbours NS_A NS_B: permanent ARP entries between two pods, both ways. A profile whose
# egress takes ARP (as netem on the interface does) delays and drops the neighbour exchange too;
# one lost request holds every queued probe for a second of retry, which measures ARP, not the
# profile's delay on the IP path.
pin_neighbours() {
  local a=$1 b=$2 from to mac ip
  for from in "$a" "$b"; do
    to=$([ "$from" = "$a" ] && echo "$b" || echo "$a")
    mac=$(ip -n "$to" -br link show eth0 | awk '{print $3}')
    for ip in $(ip -n "$to" -4 -o addr show eth0 | awk '{print $4}'); do
      ip -n "$from" neigh replace "${ip%/*}" lladdr "$mac" dev eth0 nud permanent
    done
  done
}

# measure NAME NS HOST PORT COUNT INTERVAL [SOURCE]: probe results in $work/NAME.json
measure() {
  local name=$1 ns=$2
  shift 2
  ip netns exec "$ns" python3 "$probe" send "$@" >"$work/$name.json"
}

# measure_ping NAME NS HOST COUNT INTERVAL: ICMP echo round trips (ping's own timestamps, free of
# the probe's interpreter overhead) in the same form
measure_ping() {
  local name=$1 ns=$2 host=$3 count=$4 interval=$5
  ip netns exec "$ns" ping -n -c "$count" -i "$interval" -W 3 "$host" | python3 -c "
import json, math, re, sys
rtts = [None] * $count
summary = None
for line in sys.stdin:
    m = re.search(r'icmp_seq=(\d+) .*time=([0-9.]+) ms', line)
    if m and int(m.group(1)) <= $count and rtts[int(m.group(1)) - 1] is None:
        rtts[int(m.group(1)) - 1] = float(m.group(2))
    m = re.search(r'= ([0-9.]+)/([0-9.]+)/([0-9.]+)/([0-9.]+) ms', line)
    if m:
        summary = [float(x) for x in m.groups()]
got = [r for r in rtts if r is not None]
# ping prints whole milliseconds from 100 ms on; its summary keeps microseconds (mdev is the
# population standard deviation).
lo, mean, hi, sd = summary if summary else (None, None, None, None)
print(json.dumps({'sent': $count, 'lost': $count - len(got), 'mean': mean, 'sd': sd,
                  'min': lo, 'max': hi, 'rtts': rtts}))
" >"$work/$name.json"
}

# throughput NS HOST PORT SECONDS [RUNS]: the TCP goodput iperf3's receiver got, in Mbit/s. Best of RUNS (3)
# runs: a run that the emulated or shared CPU slows says nothing about the data path. With two or
# more CPUs, sender and receiver are pinned to CPUs 0 and 1: where the scheduler puts them (one
# core or two) moves a veth's TCP throughput by more than the 10 % the check allows.
throughput() {
  local ns=$1 host=$2 port=$3 seconds=$4 runs=${5:-3} best=0 got pin=()
  (($(nproc) >= 2)) && pin=(-A 0,1)
  for _ in $(seq "$runs"); do
    got=$(ip netns exec "$ns" iperf3 -c "$host" -p "$port" -t "$seconds" "${pin[@]}" -J 2>/dev/null |
      python3 -c "import json, sys; print(json.load(sys.stdin)['end']['sum_received']['bits_per_second'] / 1e6)" 2>/dev/null) ||
      got=0
    best=$(python3 -c "print(max($best, $got))")
  done
  echo "$best"
}

# expect NAME RESULT PYTHON_CONDITION: the condition holds for r (the probe's results)
expect() {
  local name=$1 result=$2 condition=$3
  local summary
  if summary=$(python3 - "$work/$result.json" "$condition" <<'PY'
import json, math, sys
r = json.load(open(sys.argv[1]))
got = sorted(x for x in r["rtts"] if x is not None)
r["median"] = got[len(got) // 2] if got else None
ok = eval(sys.argv[2], {"math": math}, {"r": r})
print("sent={sent} lost={lost} mean={mean} sd={sd} min={min} max={max} median={median}".format(**r))
sys.exit(0 if ok else 1)
PY
  ); then
    passed=$((passed + 1))
    echo "ok: $name ($summary)"
  else
    fail "$name"
    echo "  condition: $condition"
    echo "  measured: $summary"
  fi
}

# applied PROFILE: the agent reports the profile's current generation as applied
applied() {
  local generation
  generation=$(kubectl get tp "$1" -o jsonpath='{.metadata.generation}')
  eventually "$1 applied (generation $generation)" "^True $generation$" \
    kubectl get tp "$1" -o jsonpath='{.status.conditions[?(@.type=="Applied")].status} {.status.observedGeneration}'
}

start_riasc_server "$riasc"
kubectl create namespace lab >/dev/null

add_pod ctrl 2 '{"application": "py_ctrl"}'
add_pod sim 3 '{"component": "example"}'
add_pod other 4 '{"component": "bystander"}' no
add_pod sink 6 '{"app": "sink"}' no
add_pod builtin 7 '{"traffic-profile": "builtin"}'
# 192.168.0.44 (the slides' second peer) and 10.1.0.4 (inside the builtin example's 10.0.0.0/8,
# outside its except) live in `other`.
ip -n other addr add 192.168.0.44/32 dev eth0
ip -n other addr add 10.1.0.4/32 dev eth0
ip -n ctrl route add 192.168.0.44/32 dev eth0
ip -n builtin route add 10.1.0.4/32 dev eth0
original_qdisc=$(ip netns exec ctrl tc qdisc show dev eth0)
for port in 5201 5202; do ip netns exec sink iperf3 -s -p "$port" >/dev/null 2>&1 & done
for _ in $(seq 50); do
  [[ $(ip netns exec sink ss -Htln 'sport = :5201 or sport = :5202' | wc -l) -ge 2 ]] && break
  sleep 0.1
done
unshaped_mbit=$(throughput ctrl 10.42.0.6 5201 3)
echo "throughput: ctrl to sink without any rules: $unshaped_mbit Mbit/s"
start_agent

# --- the slides' profile, with a loss that lets packets through ----------------------------------
sed -e 's/loss_ratio: 1 .*/loss_ratio: 0.1/' "$here/../../examples/trafficprofile-delay-jitter.yaml" | kubectl apply -f - >/dev/null
applied profile-delay-jitter
measure_ping slides ctrl 10.42.0.3 400 0.02
# Mean within 3 standard errors of 200 ms (+1.5 ms of overhead); normal jitter sd 50 ms ±15 %;
# loss 10 % within 3 binomial standard deviations.
expect "slides: delay 200 ms" slides 'abs(r["mean"] - 200.75) <= 0.75 + 3 * 50 / math.sqrt(r["sent"] - r["lost"])'
expect "slides: jitter sd 50 ms ±15 %" slides '42.5 <= r["sd"] <= 57.5'
expect "slides: loss 10 % ±3 sd" slides 'abs(r["lost"] - 40) <= 3 * math.sqrt(400 * 0.1 * 0.9)'
measure slides6 ctrl fd00:42::3 7 100 0.02
expect "slides: IPv6 peers are shaped" slides6 'r["median"] > 100'
measure unselected ctrl 10.42.0.4 7 50 0.02
expect "slides: other destinations are not shaped" unselected 'r["median"] < 10 and r["max"] < 100 and r["lost"] == 0'
measure port-selected ctrl 192.168.0.44 12000 30 0.02
expect "slides: UDP 12000 to 192.168.0.44 is shaped" port-selected 'r["lost"] == 30 or r["median"] > 100'
ip netns exec other python3 "$probe" echo 12000 &
ip netns exec other python3 "$probe" echo 12001 &
sleep 0.5
measure port-selected ctrl 192.168.0.44 12000 100 0.02
expect "slides: UDP 12000 to 192.168.0.44 is shaped" port-selected 'r["median"] > 100'
measure port-unselected ctrl 192.168.0.44 12001 50 0.02
expect "slides: another port of 192.168.0.44 is not shaped" port-unselected 'r["median"] < 10 and r["max"] < 100 and r["lost"] == 0'
measure_ping other-protocol ctrl 192.168.0.44 20 0.05
expect "slides: another protocol to 192.168.0.44 is not shaped" other-protocol 'r["lost"] == 0 and r["max"] < 100'

check "status: the node entry names the $backend backend" "^$backend\$" \
  kubectl get tp profile-delay-jitter -o jsonpath='{.status.nodes[0].backend}'
if [ "$backend" = userspace ]; then
  check "metrics: the engine's counters per band" \
    'riasc_engine_packets_lost_total\{pod="lab/ctrl",profile="profile-delay-jitter",direction="egress"\} [1-9]' \
    curl -fsS http://127.0.0.1:19107/metrics
  check "metrics: the engine's lateness histogram per band" \
    'riasc_engine_lateness_seconds_bucket\{pod="lab/ctrl",profile="profile-delay-jitter",direction="egress",le="0.0005"\} [1-9]' \
    curl -fsS http://127.0.0.1:19107/metrics
fi

# --- throughput: traffic the profile does not select keeps its speed; a rate gives its goodput ---
if [ "$backend" = userspace ]; then
  # Against a path without rules measured in turn with it, under the same load: the agent and
  # server (several times slower under AddressSanitizer) take CPU from iperf3 on two cores once
  # they run, which a baseline taken before them does not see (CI measured 87 % that way).
  unshaped_mbit=0
  selected_mbit=0
  for _ in 1 2 3 4 5; do
    unshaped_mbit=$(python3 -c "print(max($unshaped_mbit, $(throughput sim 10.42.0.6 5201 2 1)))")
    selected_mbit=$(python3 -c "print(max($selected_mbit, $(throughput ctrl 10.42.0.6 5201 2 1)))")
  done
  echo "throughput: sim (no rules) to sink, in turn with the next: $unshaped_mbit Mbit/s"
else
  selected_mbit=$(throughput ctrl 10.42.0.6 5201 3)
fi
echo "throughput: ctrl to sink (not selected) with the slides' profile on ctrl: $selected_mbit Mbit/s"
# The issue's 90 % is for this machine kind, on the userspace backend. The kernel backend is
# tested in the project's VM, under QEMU's TCG, where the prio qdisc, fw filter and nft marks that
# every packet of ctrl passes cost 10-20 times what they cost on hardware: there it got 71 % to over 90 % of
# the baseline, so it is held to half (a classifier that shaped the unselected flow would leave a
# few percent) and the figures are printed for the record.
min_share=0.9
[ "$backend" = kernel ] && min_share=0.5
echo "throughput: unselected share $(python3 -c "print(round($selected_mbit / $unshaped_mbit, 3))") (at least $min_share)"
check "throughput: unselected TCP keeps > $min_share of the unshaped ($selected_mbit of $unshaped_mbit Mbit/s)" '^ok$' \
  python3 -c "print('ok' if $selected_mbit > $min_share * $unshaped_mbit else 'slower')"
kubectl apply -f - >/dev/null <<'YAML'
apiVersion: k8s-netem.riasc.eu/v1
kind: TrafficProfile
metadata: {name: rate-10mbit}
spec:
  podSelector: {matchLabels: {application: py_ctrl}}
  parameters: {netem: {rate: 10mbit}}
  egress:
    - to: [{podSelector: {matchLabels: {app: sink}}}]
      ports: [{port: 5202, protocol: TCP}]
YAML
applied rate-10mbit
# 1448 bytes of TCP payload in each 1514-byte frame netem's rate counts: 9.56 Mbit/s at most.
rate_mbit=$(throughput ctrl 10.42.0.6 5202 8)
echo "throughput: TCP through a 10 Mbit/s rate: $rate_mbit Mbit/s"
check "throughput: a 10 Mbit/s rate gives 9.5 ± 0.2 Mbit/s of TCP goodput ($rate_mbit)" '^ok$' \
  python3 -c "print('ok' if abs($rate_mbit - 9.5) <= 0.2 else 'off')"
kubectl delete tp rate-10mbit >/dev/null

# --- the exact delay, then a live change: no packet unshaped or lost across it -------------------
kubectl patch tp profile-delay-jitter --type merge -p '{"spec":{"parameters":{"netem":{"delay":0.2,"jitter":0,"loss_ratio":0}}}}' >/dev/null
applied profile-delay-jitter
# The emulated CPU sometimes pauses for tens of milliseconds under load, which lifts a run's mean;
# a delay that is really off fails every attempt.
for attempt in 1 2 3; do
  measure_ping exact ctrl 10.42.0.3 200 0.02
  python3 -c "import json,sys; r=json.load(open('$work/exact.json')); sys.exit(0 if 200 <= r['mean'] <= 201.5 else 1)" && break
  echo "exact delay: attempt $attempt: mean $(python3 -c "import json; print(json.load(open('$work/exact.json'))['mean'])") ms"
done
expect "exact delay: mean within +0..+1.5 ms of 200 ms" exact '200 <= r["mean"] <= 201.5 and r["lost"] == 0'
kubectl patch tp profile-delay-jitter --type merge -p '{"spec":{"parameters":{"netem":{"delay":0.1}}}}' >/dev/null
applied profile-delay-jitter
measure live ctrl 10.42.0.3 7 300 0.01 &
probe_pid=$!
sleep 1.5
kubectl patch tp profile-delay-jitter --type merge -p '{"spec":{"parameters":{"netem":{"delay":0.15}}}}' >/dev/null
wait "$probe_pid"
expect "live change: no packet lost or unshaped" live 'r["lost"] == 0 and r["min"] >= 100'
expect "live change: 100 ms before, 150 ms after" live 'r["rtts"][0] < 130 and r["rtts"][-1] >= 150'

# --- the original repo's builtin example ----------------------------------------------------------
pin_neighbours builtin sim
kubectl apply -f "$here/../../examples/trafficprofile-builtin.yaml" >/dev/null
applied profile-builtin
measure builtin builtin 10.42.0.3 7 400 0.02
# 5 % reordered (sent without the delay), 1 % duplicated, 0.1 % corrupted (then lost).
expect "builtin: delay 200 ms" builtin '190 <= r["median"] <= 212'
# loss 20 % with correlation 25 %: netem's correlated generator (next = (1-c) u + c last) drops
# fewer than 20 %. The expected rate is simulated with the kernel's own arithmetic; the bound is 3
# binomial standard deviations, doubled for the correlation's wider spread.
expected_loss=$(python3 -c "
import random
random.seed(1)
p, c, last, lost, n = 0.2 * 2**32, int(0.25 * 2**32), 0, 0, 200000
for _ in range(n):
    last = (random.getrandbits(32) * (2**32 - c) + last * c) >> 32
    lost += last < p
print(lost / n + 0.001)")
expect "builtin: loss as netem's correlated 20 % gives ($expected_loss)" builtin \
  "abs(r['lost'] - 400 * $expected_loss) <= 2 * 3 * math.sqrt(400 * $expected_loss * (1 - $expected_loss))"
# Ingress UDP 5000 from 10.0.0.0/8 is shaped, except from 10.42.0.0/16; the replies always are.
# builtin's egress band takes every packet, its ARP too: pin other's addresses, so that the
# replies do not wait (and bunch up) behind a shaped or lost ARP exchange.
pin_neighbours builtin other
measure ingress-shaped other 10.42.0.7 5000 100 0.02 10.1.0.4
expect "builtin: ingress from 10.1.0.4 to UDP 5000 is shaped" ingress-shaped '380 <= r["median"] <= 450'
measure ingress-except other 10.42.0.7 5000 100 0.02
expect "builtin: ingress from the except range is not" ingress-except '180 <= r["median"] <= 260'

# --- ingress from a podSelector, a new peer within a second ---------------------------------------
kubectl apply -f - >/dev/null <<'YAML'
apiVersion: k8s-netem.riasc.eu/v1
kind: TrafficProfile
metadata: {name: ingress-from-examples}
spec:
  podSelector: {matchLabels: {app: sink}}
  parameters: {netem: {delay: 0.05}}
  ingress:
    - from:
        - podSelector: {matchLabels: {component: example}}
YAML
applied ingress-from-examples
measure ingress-peer sim 10.42.0.6 7 100 0.02
expect "ingress: from a selected pod is shaped" ingress-peer '50 <= r["median"] <= 55'
measure ingress-other other 10.42.0.6 7 50 0.02
expect "ingress: from another pod is not" ingress-other 'r["median"] < 10 and r["max"] < 45'
measure ingress-peer6 sim fd00:42::6 7 50 0.02
expect "ingress: IPv6 too" ingress-peer6 '50 <= r["median"] <= 60'
add_pod late 8 '{"component": "example"}'
added=$(cat "$work/ip-given-late")
for _ in $(seq 300); do
  # Not a pipe into grep -q: with pipefail, nft's SIGPIPE would fail the match.
  if [ "$backend" = kernel ]; then
    rules=$(ip netns exec sink nft list table netdev riasc 2>/dev/null)
  else  # ingress is diverted on the host, where the pod's veth peer is
    rules=$(nft list table netdev riasc_in_v_sink 2>/dev/null)
  fi
  grep -q '10\.42\.0\.8' <<<"$rules" && break
  sleep 0.01
done
shaped=$(date +%s.%N)
took=$(python3 -c "print(round(($shaped - $added) * 1000))")
# The target is a second. QEMU's TCG (the only accelerator the project's VM has) runs the API
# server, the agent and every `nft list` of this loop several times slower, so the VM gets twice
# that; the agent's own reaction time is measured by bench/netem_agent_bench (docs/benchmarks.md).
budget=1000
[ "${RIASC_VM:-0}" = 1 ] && budget=2000
if [ "$took" -lt "$budget" ]; then
  passed=$((passed + 1))
  echo "ok: a new peer is shaped ${took} ms after it got its IP (budget ${budget} ms)"
else
  fail "a new peer is shaped within ${budget} ms (took ${took} ms)"
  echo "  IP given at $(date -u -d "@$added" +%T.%N); the agent's log:"
  tail -30 "$work/agent.log"
fi
measure ingress-late late 10.42.0.6 7 50 0.02
expect "ingress: the new peer's traffic is shaped" ingress-late '50 <= r["median"] <= 55'

# --- restart: exactly one set of rules ------------------------------------------------------------
kill -9 "$agent_pid"
wait "$agent_pid" 2>/dev/null
kubectl delete tp ingress-from-examples >/dev/null  # removed while no agent runs
start_agent
eventually "restart: the profile deleted meanwhile is gone from sink" '^$' \
  sh -c "ip netns exec sink tc qdisc show | grep -E 'netem|prio|clsact'; ip -n sink link show type ifb; nft list tables netdev | grep riasc_in_v_sink"
if [ "$backend" = kernel ]; then
  check "restart: ctrl has one prio root and one netem" '^1 1 1$' sh -c \
    "echo \$(ip netns exec ctrl tc qdisc show dev eth0 | grep -c 'prio 5249:') \
          \$(ip netns exec ctrl tc qdisc show dev eth0 | grep -c netem) \
          \$(ip netns exec ctrl nft list tables | grep -c 'netdev riasc')"
else
  eventually "restart: ctrl has one TAP and one table" '^1 1$' sh -c \
    "echo \$(ip -n ctrl -o link show type tun | grep -c ': rse') \$(ip netns exec ctrl nft list tables | grep -c 'netdev riasc')"
  check "restart: one engine runs" '^1$' sh -c "pgrep -fc '[r]iasc engine --control-fd'"
fi
measure_ping after-restart ctrl 10.42.0.3 50 0.02
expect "restart: still shaped" after-restart '150 <= r["median"] <= 155'

# --- deleting restores the original path ----------------------------------------------------------
kubectl delete tp profile-delay-jitter >/dev/null
eventually "delete: the original qdisc is back" "^$(printf '%s' "$original_qdisc" | head -1)" \
  ip netns exec ctrl tc qdisc show dev eth0
check "delete: no rules left" '^0$' sh -c "ip netns exec ctrl nft list tables | grep -c riasc"
check "delete: no TAP left" '^0$' sh -c "ip -n ctrl -o link show type tun | grep -c ': rse'"
if [ "$backend" = userspace ]; then
  check "delete: the profile's metric series are gone" '^0$' \
    sh -c "curl -fsS http://127.0.0.1:19107/metrics | grep -c 'profile=\"profile-delay-jitter\"' || true"
fi
measure restored ctrl 10.42.0.3 7 50 0.02
expect "delete: unshaped again" restored 'r["median"] < 10 and r["max"] < 100'

# --- Flexe: steps switch on schedule --------------------------------------------------------------
kubectl apply -f - >/dev/null <<'YAML'
apiVersion: k8s-netem.riasc.eu/v1
kind: TrafficProfile
metadata: {name: flexe-steps}
spec:
  type: Flexe
  podSelector: {matchLabels: {component: bystander}}
  parameters:
    segments: [{repeat: false}]
    profiles:
      - {name: near, parameters: {runTime: 2, delay: 20}}
      - {name: far, parameters: {delay: 60}}
      - {name: farther, parameters: {delay: 100}}
YAML
sleep 7
# A second without work after a pass, and `riasc agent` hands its heap's free pages back.
check "memory: the agent trimmed its heap when quiet" '^[1-9]' sh -c "grep -c 'after a pass: heap trimmed' '$work/agent.log'"
check "flexe: two switches logged" '^2$' sh -c "grep -c 'flexe flexe-steps/egress on lab/other' '$work/agent.log'"
# The target is 10 ms. An AddressSanitizer build (CI's first stage) runs the agent's pass several
# times slower and gets 30 ms; the release build meets the 10 ms in the README's test run.
switch_budget=10
ldd "$riasc" 2>/dev/null | grep -q libasan && switch_budget=30
check "flexe: every switch within $switch_budget ms of its schedule" '^ok$' python3 -c "
import re
late = [float(m) for m in re.findall(r'flexe flexe-steps/egress on lab/other: step \d+ in force (-?[0-9.]+) ms', open('$work/agent.log').read())]
print('ok' if late and max(late) < $switch_budget else late)"
measure_ping flexe other 10.42.0.3 50 0.02
expect "flexe: the last step holds" flexe '100 <= r["median"] <= 103'

# --- a profile asks for the node's other backend: its pods move there and back; status says so ---
other_backend=userspace
[ "$backend" = userspace ] && other_backend=kernel
backend_profile() {  # backend_profile CHOICE: 30 ms on sink's egress, from that backend
  kubectl apply -f - >/dev/null <<YAML
apiVersion: k8s-netem.riasc.eu/v1
kind: TrafficProfile
metadata: {name: other-backend}
spec:
  backend: $1
  podSelector: {matchLabels: {app: sink}}
  parameters: {netem: {delay: 0.03}}
YAML
}
backend_profile "$other_backend"
eventually "backend: spec.backend $other_backend moves sink there" "^$other_backend\$" \
  kubectl get tp other-backend -o jsonpath='{.status.nodes[0].backend}'
# The engine runs anywhere; kernel netem only where the kernel has it (not on CI's hosts).
accepted='^True $'
[ "$other_backend" = kernel ] && accepted='^(True |False KernelModuleMissing)$'
eventually "backend: $other_backend applies it, or names the module the kernel lacks" "$accepted" \
  kubectl get tp other-backend -o jsonpath='{.status.conditions[?(@.type=="Applied")].status} {.status.nodes[0].reason}'
if [ "$(kubectl get tp other-backend -o jsonpath='{.status.conditions[?(@.type=="Applied")].status}')" = True ]; then
  measure_ping forced sink 10.42.0.2 30 0.02
  expect "backend: $other_backend shapes sink" forced '30 <= r["median"] <= 34'
fi
backend_profile auto
eventually "backend: with auto, sink goes back to the node's $backend backend" "^$backend True\$" \
  kubectl get tp other-backend -o jsonpath='{.status.nodes[0].backend} {.status.conditions[?(@.type=="Applied")].status}'
taps_expected=0
[ "$backend" = userspace ] && taps_expected=1
check "backend: sink has the TAPs of its backend only" "^$taps_expected\$" sh -c \
  "ip -n sink -o link show type tun | grep -c ': rse'"
measure_ping unforced sink 10.42.0.2 30 0.02
expect "backend: $backend shapes sink" unforced '30 <= r["median"] <= 34'
# An agent dies while sink is on the other backend; the profile goes back to auto meanwhile. The
# next agent shapes sink on the node's backend and removes what the other one left in it.
backend_profile "$other_backend"
eventually "backend: sink moves to $other_backend again" "^$other_backend\$" \
  kubectl get tp other-backend -o jsonpath='{.status.nodes[0].backend}'
kill -9 "$agent_pid"
wait "$agent_pid" 2>/dev/null
backend_profile auto
start_agent
eventually "backend: after a crash, sink is on the node's $backend backend" "^$backend True\$" \
  kubectl get tp other-backend -o jsonpath='{.status.nodes[0].backend} {.status.conditions[?(@.type=="Applied")].status}'
check "backend: after a crash, sink has the TAPs and qdiscs of its backend only" \
  "^$taps_expected $((1 - taps_expected))\$" sh -c \
  "echo \$(ip -n sink -o link show type tun | grep -c ': rse') \$(ip netns exec sink tc qdisc show dev eth0 | grep -c 'prio 5249:')"
kubectl delete tp other-backend >/dev/null

kill "$agent_pid"
wait "$agent_pid"
check "agent: stops cleanly on SIGTERM" '^0$' echo $?
agent_pid=""
[ "$failed" -gt 0 ] && { echo "--- agent log"; grep -v 'pass done' "$work/agent.log" | tail -80; }
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
