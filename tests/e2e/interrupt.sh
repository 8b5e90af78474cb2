#!/usr/bin/env bash
# SIGINT in the middle of a run: crisp stops the calls in flight, cleans up,
# writes its reports and exits 130; no pod of the run remains on the runtime.
source "$(dirname "$0")/lib.sh"
suite="$(dirname "$0")/suites/slow.yaml"
run_id="interrupt-$$-$RANDOM"
reports=$(mktemp -d)
trap 'rm -rf "$reports"' EXIT

pods_of_run() {
  "$CRISP" call ListPodSandbox -e "$CRISP_CONTAINERD_ENDPOINT" \
    -d "{\"filter\": {\"label_selector\": {\"crisp.run-id\": \"$run_id\"}}}" | jq '.items | length'
}

"$CRISP" run -e "$CRISP_CONTAINERD_ENDPOINT" --suite "$suite" -j 2 --run-id "$run_id" \
  --report-dir "$reports" > "$reports/run.log" 2>&1 &
crisp_pid=$!

# Wait until both pods exist and their long execs have begun.
for _ in $(seq 1 300); do
  [ "$(pods_of_run)" = 2 ] && break
  sleep 0.2
done
check "pods of the run before SIGINT" 2 "$(pods_of_run)"
sleep 3
check "crisp still running before SIGINT" yes "$(kill -0 "$crisp_pid" 2>/dev/null && echo yes || echo no)"

start=$(date +%s)
kill -INT "$crisp_pid"
set +e
wait "$crisp_pid"
rc=$?
set -e
elapsed=$(( $(date +%s) - start ))
cat "$reports/run.log"

check "exit code after SIGINT" 130 "$rc"
check "stopped promptly (in-flight calls cancelled), not after the 60 s exec" yes \
  "$([ "$elapsed" -lt 30 ] && echo yes || echo "no: ${elapsed}s")"
check "pods of the run after SIGINT" 0 "$(pods_of_run)"
check "results.json says interrupted" true "$(jq .interrupted "$reports/results.json")"
check "the scenario never started is an error, not a pass" error \
  "$(jq -r '.scenarios[] | select(.id=="interrupt.never-started") | .verdict' "$reports/results.json")"
check "junit.xml was written" yes "$(grep -q '<testsuites' "$reports/junit.xml" && echo yes || echo no)"
finish
