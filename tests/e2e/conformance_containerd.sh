#!/usr/bin/env bash
# The conformance suites (every suite) on the real containerd, two
# scenarios at a time, with the containerd baseline: nothing fails or
# errors (n.a. and known failures are allowed, with their reasons), and no
# pod of the run remains. Prints the wall time: the figure to compare with
# critest's serial 80 s on this machine.
source "$(dirname "$0")/lib.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
run_id="conformance-$$-$RANDOM"
reports=$(mktemp -d)
trap 'rm -rf "$reports"' EXIT
start=$(date +%s.%N)
set +e
"$CRISP" run -e "containerd=$CRISP_CONTAINERD_ENDPOINT" --suite "$repo/suites" -j 2 --run-id "$run_id" \
  --baseline "$repo/fixtures/baselines/known-failures.yaml" --report-dir "$reports"
rc=$?
set -e
end=$(date +%s.%N)
summary=$(jq -c .summary "$reports/results.json")
echo "conformance on containerd: $summary in $(awk "BEGIN {printf \"%.1f\", $end - $start}") s wall (-j 2)"
check "every suite on containerd (fail and error: none)" 0 "$rc"
check "scenarios ran" true "$(jq '.summary.total > 0 and .summary.pass > 0' "$reports/results.json")"
check "every n.a. and known has its reason" true \
  "$(jq '[.scenarios[] | select(.verdict == "na" or .verdict == "known") | .reason != ""] | all' "$reports/results.json")"
check "junit.xml is well-formed" yes "$(xmllint --noout "$reports/junit.xml" && echo yes || echo no)"
check "no pod of the run remains" 0 "$("$CRISP" call ListPodSandbox -e "$CRISP_CONTAINERD_ENDPOINT" \
  -d "{\"filter\": {\"label_selector\": {\"crisp.run-id\": \"$run_id\"}}}" | jq '.items | length')"
finish
