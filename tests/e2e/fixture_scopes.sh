#!/usr/bin/env bash
# Every suite on containerd twice, -j 2: with shared fixtures (the default,
# --fixture-scope run) and with every scenario making its own (scenario).
# A scenario's verdict must not depend on which others ran before it in the
# same pod: the two runs give the same verdict for every scenario. The
# shared run makes fewer pods and pulls, and results.json says so; the wall
# times are printed, not judged (this machine sets them).
source "$(dirname "$0")/lib.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

for scope in run scenario; do
  set +e
  "$CRISP" "${mirrors[@]}" run -e "containerd=$CRISP_CONTAINERD_ENDPOINT" --suite "$repo/suites" -j 2 \
    --fixture-scope "$scope" --baseline "$repo/fixtures/baselines/known-failures.yaml" \
    --report-dir "$out/$scope" > "$out/$scope.log" 2>&1
  rc=$?
  set -e
  check "crisp run --fixture-scope $scope exits 0" 0 "$rc"
done
# A scenario the baseline lists (a known race) may pass or fail in either
# run: it compares as "baselined"; every other verdict must be the same.
verdicts() {
  jq -r '.scenarios[] | "\(.id) \(if .baseline then "baselined" else .verdict end)"' "$out/$1/results.json" | sort
}
check "the same verdict for every scenario either way" "$(verdicts scenario)" "$(verdicts run)"
check "every scenario ran" "$(jq '.scenarios | length' "$out/scenario/results.json")" "$(jq '.summary.total' "$out/run/results.json")"
pods() { jq '.summary.work.RunPodSandbox' "$out/$1/results.json"; }
pulls() { jq '.summary.work.PullImage' "$out/$1/results.json"; }
check "fewer pods made with shared fixtures ($(pods run) against $(pods scenario))" yes \
  "$([ "$(pods run)" -lt "$(pods scenario)" ] && echo yes || echo no)"
check "fewer pulls with shared fixtures ($(pulls run) against $(pulls scenario))" yes \
  "$([ "$(pulls run)" -lt "$(pulls scenario)" ] && echo yes || echo no)"
check "a reused pod says so" yes \
  "$(jq -e '[.scenarios[].steps[] | select(.kind == "shared" and (.message | startswith("reused")))] | length > 0' \
     "$out/run/results.json" > /dev/null && echo yes || echo no)"
check "nothing left for the sweep" 0 "$(jq '.sweep.removed' "$out/run/results.json")"
wall() {
  jq -r '[.start, .end] | map(capture("^(?<s>[^.]+)(\\.(?<f>[0-9]+))?Z$")
         | (.s + "Z" | fromdate) + ((.f // "0") | "0." + . | tonumber)) | .[1] - .[0]' "$out/$1/results.json"
}
# One pair on a shared machine: bench/run-fixture-scope-bench takes turns
# over several rounds for a figure.
echo "wall: shared $(wall run) s, per scenario $(wall scenario) s, ratio $(jq -n "$(wall run) / $(wall scenario) * 100 | round / 100")"
finish
