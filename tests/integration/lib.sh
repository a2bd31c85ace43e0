# Sourced by the shell integration tests: checks that count, and a fresh `riasc server`.
# The sourcing script sets `work` (its temporary folder) first, and ends with
# `echo "$passed passed, $failed failed"`.
passed=0
failed=0
server_pid=""

fail() {
  failed=$((failed + 1))
  printf 'FAILED: %s\n' "$*"
}

check() {  # check NAME EXPECTED_REGEX COMMAND...: once
  local name=$1 expected=$2
  shift 2
  local output
  output=$(timeout 30 "$@" 2>&1) || true
  if grep -Eq -- "$expected" <<<"$output"; then passed=$((passed + 1)); else
    fail "$name"
    printf '  command: %s\n  expected: /%s/\n  output:\n%s\n' "$*" "$expected" "$output"
  fi
}

eventually() {  # eventually NAME EXPECTED_REGEX COMMAND...: polls for up to 20 s
  local name=$1 expected=$2
  shift 2
  local output=""
  for _ in $(seq 100); do
    output=$(timeout 30 "$@" 2>&1) || true
    if grep -Eq -- "$expected" <<<"$output"; then
      passed=$((passed + 1))
      return
    fi
    sleep 0.2
  done
  fail "$name"
  printf '  command: %s\n  expected: /%s/\n  last output:\n%s\n' "$*" "$expected" "$output"
}

# start_riasc_server RIASC_BINARY [SERVER_ARGS...]: on loopback with its data in $work/data; returns once the
# kubeconfig is written, with KUBECONFIG set to it and HOME to $work (kubectl's cache).
start_riasc_server() {
  "$1" server --data-dir "$work/data" --listen 127.0.0.1:0 "${@:2}" >"$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do
    [ -f "$work/data/kubeconfig" ] && break
    sleep 0.1
  done
  export KUBECONFIG="$work/data/kubeconfig"
  export HOME="$work"
}
