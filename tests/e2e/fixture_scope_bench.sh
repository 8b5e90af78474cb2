#!/usr/bin/env bash
# bench/run-fixture-scope-bench end to end, small: four container scenarios
# that share a pod, two rounds on containerd. The rounds alternate which
# scope goes first, each pair gives the same verdicts, the shared runs make
# fewer pods, and the summary has a ratio per round and their median.
source "$(dirname "$0")/lib.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

set +e
CRISP="$CRISP" OUT="$out/bench" ROUNDS=2 SUITES="$repo/suites/container" \
  FOCUS='^container\.(envs|working-dir|command-with-args|exit-zero-completed) ' \
  "$repo/bench/run-fixture-scope-bench" > "$out/bench.log" 2>&1
rc=$?
set -e
cat "$out/bench.log"
check "run-fixture-scope-bench exits 0" 0 "$rc"
summary=$out/bench/summary.json
check "two rounds" 2 "$(jq '.rounds | length' "$summary")"
check "the rounds take turns going first" "run scenario" "$(jq -r '[.rounds[].first] | join(" ")' "$summary")"
check "four scenarios in each run" "4 4" "$(jq -r '[.rounds[].scenarios] | map(tostring) | join(" ")' "$summary")"
check "fewer pods shared than one per scenario, each round" "true" \
  "$(jq '[.rounds[] | .shared_work.RunPodSandbox < .scenario_work.RunPodSandbox] | all' "$summary")"
check "each round's ratio is its shared time over its scenario time" "true" \
  "$(jq '[.rounds[] | .ratio > 0 and ((.ratio - .shared_s / .scenario_s) | fabs) < 1e-9] | all' "$summary")"
check "the median lies between the rounds' ratios" "true" \
  "$(jq '([.rounds[].ratio] | min) <= .median_ratio and .median_ratio <= ([.rounds[].ratio] | max)' "$summary")"
check "the same verdicts either way" "" "$(cat "$out"/bench/round*-verdicts.diff)"
finish
