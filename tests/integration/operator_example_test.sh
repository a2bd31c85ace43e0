#!/usr/bin/env bash
# The example operator (examples/operators/greeting_operator.cpp) as the SDK tutorial runs it:
# `riasc server`, the CRD and a Greeting applied with the machine's kubectl, the operator binary
# with the server's kubeconfig. Status written, a TemporaryError retried, a field change and a
# PermanentError handled, the probes over plain HTTP, a delete completed (finalizer removed), a
# clean stop on SIGTERM; bad flags and an unreachable server are refused.
# Usage: operator_example_test.sh RIASC_BINARY OPERATOR_BINARY SOURCE_DIR
set -euo pipefail
riasc=$1
greeter=$2
source_dir=$3
work=$(mktemp -d)
server_pid=""  # set by start_riasc_server (lib.sh)
operator_pid=""
cleanup() {
  [ -n "$operator_pid" ] && kill -9 "$operator_pid" 2>/dev/null || true
  [ -n "$server_pid" ] && kill -9 "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

source "$(dirname "$0")/lib.sh"
start_riasc_server "$riasc"

# Refusals first: a usage error exits 2, a server where nothing listens exits 1, both with a message.
exits() {  # exits NAME CODE MESSAGE_REGEX COMMAND...: the command exits CODE and says MESSAGE
  local name=$1 code=$2 expected=$3 output status=0
  shift 3
  output=$(timeout 30 "$@" 2>&1) || status=$?
  if [ "$status" -eq "$code" ] && grep -Eq -- "$expected" <<<"$output"; then passed=$((passed + 1)); else
    fail "$name"
    printf '  command: %s\n  expected: exit %s and /%s/\n  got: exit %s\n%s\n' "$*" "$code" "$expected" "$status" "$output"
  fi
}
exits "a bad flag" 2 'not expected: --no-such-flag' "$greeter" --no-such-flag
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed "s#server: https://127.0.0.1:[0-9]*#server: https://127.0.0.1:$port#" "$KUBECONFIG" >"$work/nowhere"
exits "an unreachable server" 1 'error cannot reach the API server at https://127.0.0.1:[0-9]+' \
  "$greeter" --kubeconfig "$work/nowhere"

check "apply the CRD" 'greetings.example.riasc.eu created' \
  kubectl apply -f "$source_dir/examples/operators/greeting-crd.yaml"
eventually "the kind is served" 'No resources found' kubectl get greetings

probe_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$greeter" --kubeconfig "$KUBECONFIG" --probe-port "$probe_port" --probe-address 127.0.0.1 \
  --log-format json >"$work/operator.log" 2>&1 &
operator_pid=$!

check "apply a Greeting" 'greeting.example.riasc.eu/ada created' \
  kubectl apply -f "$source_dir/examples/operators/greeting-ada.yaml"
eventually "the create handler's message in status" '^Hello, Ada!$' \
  kubectl get greeting ada -o 'jsonpath={.status.message}'
check "the create handler's result in status.create" '^Ada$' kubectl get greeting ada -o 'jsonpath={.status.create.greeted}'
check "the field handler ran on creation" '^ en$' \
  kubectl get greeting ada -o 'jsonpath={.status.language.from} {.status.language.to}'
check "the finalizer (a delete handler exists)" 'riasc.eu/greeter' \
  kubectl get greeting ada -o 'jsonpath={.metadata.finalizers}'
eventually "the timer's result in status.ticks" '^[1-9]' kubectl get greeting ada -o 'jsonpath={.status.ticks}'
check "printer columns" 'ada +Ada +en +Hello, Ada!' kubectl get gr
check "/healthz over plain HTTP" '^ok$' curl -sS "http://127.0.0.1:$probe_port/healthz"
check "/metrics" 'controller_runtime_reconcile_total\{controller="greeter",result="success"\} [1-9]' \
  curl -sS "http://127.0.0.1:$probe_port/metrics"

check "change a field" 'patched' kubectl patch greeting ada --type merge -p '{"spec":{"language":"de"}}'
eventually "the update handler's new message" '^Hallo, Ada!$' kubectl get greeting ada -o 'jsonpath={.status.message}'
eventually "the field handler saw the change" '^en de$' \
  kubectl get greeting ada -o 'jsonpath={.status.language.from} {.status.language.to}'

printf 'apiVersion: example.riasc.eu/v1\nkind: Greeting\nmetadata: {name: shy}\nspec: {name: Grace, shy: true}\n' \
  >"$work/shy.yaml"
check "apply a shy Greeting" 'created' kubectl apply -f "$work/shy.yaml"
eventually "a TemporaryError is reported" 'HandlerRetrying.*too shy' \
  kubectl get events --field-selector involvedObject.name=shy -o 'jsonpath={range .items[*]}{.reason} {.message}{"\n"}{end}'
eventually "and retried after its delay" '^Hello, Grace!$' kubectl get greeting shy -o 'jsonpath={.status.message}'
check "a language no one speaks" 'patched' kubectl patch greeting shy --type merge -p '{"spec":{"language":"tlh"}}'
eventually "fails for good (PermanentError)" 'HandlerFailed.*no one here speaks tlh' \
  kubectl get events --field-selector involvedObject.name=shy -o 'jsonpath={range .items[*]}{.reason} {.message}{"\n"}{end}'

check "delete" 'deleted' kubectl delete greeting ada --timeout=20s
check "the delete handler ran and the finalizer went" 'NotFound' kubectl get greeting ada
check "the delete handler's log line" 'goodbye, ada' cat "$work/operator.log"

kill -TERM "$operator_pid"
if wait "$operator_pid"; then passed=$((passed + 1)); else fail "the operator did not exit 0 on SIGTERM"; fi
operator_pid=""
check "structured log lines up to the stop" '"level":"info","logger":"greeter","msg":"stopped"' cat "$work/operator.log"
kill -TERM "$server_pid"
wait "$server_pid" || true
server_pid=""

echo "$passed passed, $failed failed"
if [ "$failed" -ne 0 ]; then
  echo "--- operator log"
  cat "$work/operator.log"
fi
[ "$failed" -eq 0 ]
