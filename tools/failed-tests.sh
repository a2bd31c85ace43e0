#!/usr/bin/env bash
# failed-tests.sh BUILD_DIR: prints, after ctest's summary, the end of each failed test's output.
# ctest prints a failure's output where the test ran, hundreds of lines above the summary; CI logs
# are often read from their tail, so a failure must also be explained there.
set -uo pipefail
build=${1:?usage: failed-tests.sh BUILD_DIR}
failed=$build/Testing/Temporary/LastTestsFailed.log
log=$build/Testing/Temporary/LastTest.log
[[ -s $failed && -f $log ]] || exit 0
while IFS=: read -r _ name; do
  printf '\n== the end of %s\n' "$name"
  awk -v name="$name" '
    $0 ~ "^[0-9]+/[0-9]+ Test: " && $3 == name { inside = 1; next }
    inside && /^Output:$/ { reading = 1; next }
    reading && /^<end of output>$/ { exit }
    reading { print }
  ' "$log" | grep -v '^-*$' | tail -n 60
done <"$failed"
