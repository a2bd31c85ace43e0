#!/usr/bin/env bash
# `riasc up` end to end, the way a researcher meets it: the quickstart experiment plus a few
# pods that exercise the runtime (name resolution and ping between pods, a container without a
# command, one that ignores SIGTERM, a bad manifest), driven with kubectl; then `riasc down` must
# leave no process, namespace, link, qdisc, TAP or table behind, and a second `riasc up` resumes.
#   quickstart_test.sh RIASC_BINARY
# The controller's round trips must show the profile's 50 ms: shaped by the kernel backend with
# RIASC_E2E_EXPECT_SHAPING=1 (the VM, where the kernel has sch_netem), else by the userspace engine.
set -uo pipefail
riasc=$(realpath "$1")
here=$(dirname "$(realpath "$0")")
root=$(realpath "$here/../..")
[ "$(id -u)" = 0 ] || { echo "SKIPPED: needs root (network namespaces, veths, a bridge)"; exit 77; }
if [ "${RIASC_E2E_EXPECT_SHAPING:-0}" = 1 ]; then
  for module in sch_netem sch_prio cls_fw; do
    modprobe -q "$module" 2>/dev/null || [ -d "/sys/module/$module" ] ||
      { echo "SKIPPED: this kernel lacks $module; make vm-test runs this on Debian's kernel"; exit 77; }
  done
fi

work=$(mktemp -d)
# shellcheck source=tests/integration/lib.sh
source "$root/tests/integration/lib.sh"
data="$work/data"
bridge=riasc-e2e
up_pid=""
cleanup() {
  [ -n "$up_pid" ] && kill "$up_pid" 2>/dev/null && wait "$up_pid" 2>/dev/null
  ip link del "$bridge" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
cp_log() { cp "$work/up.err" /tmp/e2e-up.err 2>/dev/null; }
trap "cp_log; cleanup" EXIT

# Every network namespace on the machine: those processes are in and those held open by files.
namespaces() {
  { readlink /proc/[0-9]*/ns/net; find /proc/[0-9]*/fd -lname 'net:*' -printf '%l\n'; } 2>/dev/null | sort -u
}
before_namespaces=$(namespaces)
# The engine's TAPs and ingress tables on the host (another experiment's may be there too).
engine_leftovers() {
  { ip -o link show type tun | sed -n 's/^[0-9]*: \(rs[ei][0-9a-f]-[^:@]*\).*/\1/p'; nft list tables netdev | grep riasc_in_; } |
    sort
}
before_engine=$(engine_leftovers)

start_up() {  # start_up [FILES...]
  "$riasc" up --data-dir "$data" --listen 127.0.0.1:0 --bridge "$bridge" --pod-cidr 10.78.0.0/24 \
    --node e2e-node "$@" >>"$work/up.out" 2>>"$work/up.err" &
  up_pid=$!
  for _ in $(seq 100); do
    grep -q "ready in" "$work/up.err" 2>/dev/null && break
    sleep 0.1
  done
  export KUBECONFIG="$data/kubeconfig"
  export HOME="$work"
}

mkdir -p "$work/experiment"
cp "$root"/examples/quickstart/*.yaml "$work/experiment/"
cat >"$work/experiment/03-extra.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: prober, namespace: quickstart}
spec:
  restartPolicy: Never
  containers:
    - name: probe
      command: ["sh", "-c", "getent hosts controller && ping -c 3 -i 0.2 -W 2 controller && ping -c 2 -W 2 $HOST"]
      env:
        - name: HOST
          valueFrom: {fieldRef: {fieldPath: status.hostIP}}
---
apiVersion: v1
kind: Pod
metadata: {name: imageonly, namespace: quickstart}
spec:
  containers:
    - {name: web, image: nginx}
---
apiVersion: v1
kind: Pod
metadata: {name: stubborn, namespace: quickstart}
spec:
  terminationGracePeriodSeconds: 2
  containers:
    - name: main
      command: ["sh", "-c", "trap 'echo got TERM' TERM; echo started; while true; do sleep 0.1; done"]
      env:
        - {name: GREETING, value: "hello from $(POD_NAME)"}
        - name: POD_NAME
          valueFrom: {fieldRef: {fieldPath: metadata.name}}
---
apiVersion: v1
kind: Pod
metadata: {name: env-check, namespace: quickstart}
spec:
  restartPolicy: OnFailure
  containers:
    - name: main
      workingDir: /tmp
      command: ["sh", "-c", "echo \"ip=$MY_IP pwd=$(pwd) host=$(hostname) msg=$MESSAGE\"; exit 3"]
      env:
        - name: MY_IP
          valueFrom: {fieldRef: {fieldPath: status.podIP}}
        - {name: MESSAGE, value: "on $(MY_IP)"}
YAML
cat >"$work/experiment/04-bad.yaml" <<'YAML'
apiVersion: k8s-netem.riasc.eu/v1
kind: TrafficProfile
metadata:
  name: broken
spec:
  podSelector: {}
  parameters:
    netem:
      loss_ratio: 2
YAML

start_up "$work/experiment"
# How fast is a benchmark's business (bench/up_bench.cpp), not this test's.
check "riasc up says it is ready" 'ready in [0-9.]+ s' cat "$work/up.err"
eventually "a bad manifest is reported with file, line and field" '04-bad.yaml:9:[0-9]+: .*loss_ratio' cat "$work/up.out"
eventually "the valid objects are applied" 'applied Pod quickstart/simulator' cat "$work/up.out"
eventually "riasc up says what it left out" '1 of 9 object\(s\) not applied' cat "$work/up.out"
eventually "the quickstart pods run" '^Running Running$' \
  kubectl get pods -n quickstart controller simulator -o jsonpath='{.items[*].status.phase}'
check "kubectl get pods -o wide shows their addresses and the node" 'controller +1/1 +Running .*10\.78\.0\.[0-9]+ +e2e-node' \
  kubectl get pods -n quickstart -o wide
check "the node is registered and Ready" 'e2e-node +Ready' kubectl get nodes
check "its heartbeat lease exists" 'e2e-node' kubectl get lease -n kube-node-lease
eventually "kubectl logs shows the exchange (controller)" 'sample [0-9]+ from 10\.78\.0\.[0-9]+: .*round trip' \
  kubectl logs -n quickstart controller
check "kubectl logs shows the exchange (simulator)" 'setpoint [0-9]+ .*round trip' kubectl logs -n quickstart simulator
check "kubectl logs -f follows" 'sample' timeout 2 kubectl logs -f --tail=1 -n quickstart controller
eventually "a pod resolves another by name and pings it" '^Succeeded$' \
  kubectl get pod -n quickstart prober -o jsonpath='{.status.phase}'
check "the ping went through" '3 received' kubectl logs -n quickstart prober
check "the pod reaches the host too" "2 received" kubectl logs -n quickstart prober
check "a container without a command waits with a clear reason" 'imageonly +0/1 +NoCommand' kubectl get pods -n quickstart
check "the reason says what to do" 'cannot pull images.*give the container a command' \
  kubectl get pod -n quickstart imageonly -o jsonpath='{.status.containerStatuses[0].state.waiting.message}'
eventually "env, fieldRef, \$(VAR) and workingDir reach the process" 'ip=10\.78\.0\.[0-9]+ pwd=/tmp host=env-check msg=on 10\.78\.0\.' \
  kubectl logs -n quickstart env-check
eventually "OnFailure restarts a failing container with back-off" '^[1-9] .*CrashLoopBackOff|^[1-9] 3 ' \
  kubectl get pod -n quickstart env-check -o jsonpath='{.status.containerStatuses[0].restartCount} {.status.containerStatuses[0].lastState.terminated.exitCode} {.status.containerStatuses[0].state.waiting.reason}'
check "the previous run's log is kept" 'ip=10\.78' kubectl logs -p -n quickstart env-check

# Shaped on every kernel: by sch_netem where the kernel has it (the VM), else by the userspace engine.
backend=userspace
[ "${RIASC_E2E_EXPECT_SHAPING:-0}" = 1 ] && backend=kernel
eventually "the TrafficProfile is applied" '^True$' \
  kubectl get tp lab-to-control-room -o jsonpath='{.status.conditions[?(@.type=="Applied")].status}'
check "its status names the $backend backend" "^$backend\$" \
  kubectl get tp lab-to-control-room -o jsonpath='{.status.nodes[0].backend}'
check "riasc up shows it applied" 'lab-to-control-room +True +Applied' cat "$work/up.out"
engine_pid=""
if [ "$backend" = userspace ]; then
  engine_pid=$(pgrep -P "$up_pid" -f 'riasc engine' | head -1)
  check "riasc up runs one engine process" '^[0-9]+$' echo "${engine_pid:-none}"
fi
sleep 4
mean=$(kubectl logs -n quickstart controller --tail=15 | sed -n 's/.*round trip \([0-9.]*\) ms/\1/p' |
  awk '{ s += $1; n += 1 } END { if (n) printf "%.1f", s / n }')
echo "the controller's mean round trip over its last 15 samples: $mean ms"
check "the controller's round trips show the profile's 50 ms delay (mean $mean ms)" '^ok$' \
  awk -v m="$mean" 'BEGIN { print (m >= 45 && m <= 70) ? "ok" : "off" }'
if [ "$backend" = userspace ]; then
  "$riasc" traces lab-to-control-room --data-dir "$data" -o "$work/trace.csv" 2>"$work/traces.err"
  check "riasc traces writes the profile's per-packet trace" \
    '^namespace,pod,direction,id,arrival_ns,departure_ns,bytes,verdict,duplicate,corrupted,reordered,ecn_marked,segments$' \
    head -1 "$work/trace.csv"
  # The simulator's egress to the controller, 50 ms ± 5 ms: departure - arrival, per packet.
  check "its rows are the simulator's packets, sent 50 ms (mean) after they arrived" '^ok [1-9]' awk -F, '
    NR > 1 && $8 == "sent" { n++; sum += ($6 - $5) / 1e6; if ($1 != "quickstart" || $2 != "simulator" || $3 != "egress") other++ }
    END { mean = n ? sum / n : 0; print (n > 0 && !other && mean >= 45 && mean <= 55 ? "ok" : "off"), n, mean }' \
    "$work/trace.csv"
  check "riasc traces names an unknown profile" 'no traces of TrafficProfile nosuch' \
    sh -c "'$riasc' traces nosuch --data-dir '$data' 2>&1; true"
fi

# Deleting: SIGTERM, the grace period, SIGKILL; the pod goes once its processes have.
stubborn_uid=$(kubectl get pod -n quickstart stubborn -o jsonpath='{.metadata.uid}')
started=$(date +%s.%N)
check "kubectl delete waits for the pod to stop" 'deleted' kubectl delete pod -n quickstart stubborn
took=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
check "a container that ignores SIGTERM is killed after its 2 s grace period (took ${took} s)" '^ok$' \
  awk -v t="$took" 'BEGIN { print (t >= 1.8 && t < 8) ? "ok" : "off" }'
check "it got SIGTERM first" 'got TERM' grep -rh "got TERM" "$data/logs/quickstart/stubborn/"
check "no process of it is left" '^none$' sh -c "pgrep -f '[t]rap .echo got TERM' >/dev/null && echo left || echo none"
check "the API no longer has it" 'NotFound' kubectl get pod -n quickstart stubborn
kubectl delete pod -n quickstart simulator >/dev/null
check "re-applying brings a deleted pod back" 'pod/simulator created' kubectl apply -f "$work/experiment/01-cosimulation.yaml"
eventually "it runs again, as a new pod" '^Running [0-9a-f-]+$' \
  kubectl get pod -n quickstart simulator -o jsonpath='{.status.phase} {.metadata.uid}'
check "a different pod than the deleted one" '^ok$' sh -c "[ \"\$(kubectl get pod -n quickstart stubborn -o name 2>/dev/null)\" = '' ] && echo ok"
[ -n "$stubborn_uid" ] || fail "stubborn had no uid"

# Deployments run on the runtime too.
kubectl apply -f - >/dev/null <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: sleepers, namespace: quickstart}
spec:
  replicas: 2
  selector: {matchLabels: {app: sleepers}}
  template:
    metadata: {labels: {app: sleepers}}
    spec:
      containers: [{name: main, command: ["sleep", "1000"]}]
YAML
check "kubectl rollout status sees a Deployment's pods run" 'successfully rolled out'   kubectl rollout status -n quickstart deployment/sleepers --timeout=20s
check "kubectl get deploy counts them" 'sleepers +2/2 +2 +2' kubectl get deploy -n quickstart
check "kubectl scale" 'scaled' kubectl scale -n quickstart deployment/sleepers --replicas=1
eventually "one pod is left" '^1$' sh -c "kubectl get pods -n quickstart -l app=sleepers -o name | wc -l"

# A DaemonSet puts one pod on this node; limits go to cgroup v2 where the machine has it.
kubectl apply -f - >/dev/null <<'YAML'
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: node-daemon, namespace: quickstart}
spec:
  selector: {matchLabels: {app: node-daemon}}
  template:
    metadata: {labels: {app: node-daemon}}
    spec:
      containers:
        - name: main
          command: ["sleep", "1000"]
          resources: {limits: {cpu: 250m, memory: 64Mi}}
YAML
check "kubectl rollout status sees the DaemonSet's pod run" 'successfully rolled out' \
  kubectl rollout status -n quickstart daemonset/node-daemon --timeout=20s
check "one pod, on this node" '^e2e-node Running$' \
  kubectl get pods -n quickstart -l app=node-daemon -o jsonpath='{.items[*].spec.nodeName} {.items[*].status.phase}'
if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then
  daemon_uid=$(kubectl get pods -n quickstart -l app=node-daemon -o jsonpath='{.items[0].metadata.uid}')
  cgroup=$(ls -d /sys/fs/cgroup/riasc/quickstart_node-daemon-*_"${daemon_uid:0:8}"_main 2>/dev/null | head -1)
  check "the memory limit is the container's cgroup's memory.max" '^67108864$' cat "$cgroup/memory.max"
  check "the CPU limit is its cpu.max" '^25000 100000$' cat "$cgroup/cpu.max"
  check "the process is in it" 'sleep' sh -c "cat $cgroup/cgroup.procs | xargs -r -n1 -I{} cat /proc/{}/comm"
else
  check "without cgroup v2 riasc up says limits are not enforced" 'limits are not enforced' cat "$work/up.err"
fi

# Unschedulable: a node selector this node does not match.
kubectl apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: elsewhere, namespace: quickstart}
spec:
  nodeSelector: {site: mars}
  containers: [{name: main, command: ["sleep", "100"]}]
YAML
eventually "a pod that does not fit stays Pending with the scheduler's reason" \
  "^Pending Unschedulable 0/1 nodes are available: 1 node\(s\) didn't match Pod's node affinity/selector\.$" \
  kubectl get pod -n quickstart elsewhere -o jsonpath='{.status.phase} {.status.conditions[0].reason} {.status.conditions[0].message}'

# riasc down leaves nothing behind.
check "riasc down stops riasc up" 'stopped' "$riasc" down --data-dir "$data"
wait "$up_pid" 2>/dev/null
up_pid=""
check "no container process is left" '^none$' sh -c "pgrep -f '[r]iasc cosim' >/dev/null && echo left || echo none"
check "no pod namespace is left" '^same$' sh -c "[ \"\$(cat <<'X'
$before_namespaces
X
)\" = \"\$( { readlink /proc/[0-9]*/ns/net; find /proc/[0-9]*/fd -lname 'net:*' -printf '%l\n'; } 2>/dev/null | sort -u)\" ] && echo same || echo different"
check "no bridge or veth is left" '^none$' sh -c "ip -o link | grep -E '$bridge|rveth' || echo none"
check "no qdisc of ours is left on the host" '^none$' sh -c "tc qdisc show | grep -E ' 5249:| 53[0-9a-f]{2}:' || echo none"
check "no TAP or diversion table of the engine is left on the host" '^same$' \
  sh -c "[ \"\$(cat <<'X'
$before_engine
X
)\" = \"\$(cat <<'X'
$(engine_leftovers)
X
)\" ] && echo same || echo different"
[ -n "$engine_pid" ] &&
  check "no engine process is left" '^none$' sh -c "kill -0 $engine_pid 2>/dev/null && echo left || echo none"

# The stored experiment resumes.
start_up
eventually "a second riasc up resumes the pods" '^Running Running$' \
  kubectl get pods -n quickstart controller simulator -o jsonpath='{.items[*].status.phase}'
check "riasc down again" 'stopped' "$riasc" down --data-dir "$data"
wait "$up_pid" 2>/dev/null
up_pid=""
check "riasc down with nothing running says so" 'nothing runs' "$riasc" down --data-dir "$data"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
