#!/usr/bin/env bash
# crisp bench on containerd and the reference runtime: every iteration
# passes, runtimes take turns (the first rotating), each RPC has its
# samples, a concurrency level, a population and a density run work, and nothing is left
# behind on containerd.
source "$(dirname "$0")/lib.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
reports=$(mktemp -d)
trap 'rm -rf "$reports"' EXIT
cd "$repo"
before=$("$CRISP" call -e "containerd=$CRISP_CONTAINERD_ENDPOINT" ListPodSandbox | jq '.items | length')
"$CRISP" --registry-mirror "docker.io=http://$CRISP_REGISTRY" bench -e "containerd=$CRISP_CONTAINERD_ENDPOINT" \
  -e reference -n 3 --focus 'pod-lifecycle|exec-sync' --concurrency 1,2 --population 12,5 --density 20 \
  --report-dir "$reports"
json="$reports/bench.json"
check "schema" crisp.bench/v1 "$(jq -r .schema "$json")"
check "two workloads" "bench.pod-lifecycle bench.exec-sync" "$(jq -r '[.workloads[].id] | join(" ")' "$json")"
check "no failed iteration" 0 "$(jq '[.workloads[].results[].failed_iterations] | add' "$json")"
check "3 measured iterations each" true "$(jq '[.workloads[].results[].iterations] | all(. == 3)' "$json")"
# (the warm-up round, not recorded, had containerd first)
check "runtimes take turns, the first rotating" \
  '[["reference","containerd"],["containerd","reference"],["reference","containerd"]]' \
  "$(jq -c '.workloads[0].order' "$json")"
check "ExecSync timed 9 times on each (3 per iteration)" true \
  "$(jq '[.workloads[1].results[].rpcs.ExecSync.count] | all(. == 9)' "$json")"
check "every RPC step timed once per iteration (pod lifecycle: 3 each)" true \
  "$(jq '[.workloads[0].results[].rpcs[] | .count == 3 and (.samples_ms | length) == 3] | all' "$json")"
check "2 in flight: 6 pods per runtime, all passed" true \
  "$(jq '.workloads[0].concurrency["2"].results | to_entries | all(.value.rpcs.RunPodSandbox.count == 6 and .value.failed_iterations == 0)' "$json")"
check "the runtimes' own CPU is measured" true \
  "$(jq '[.workloads[].results[].runtime_cost.cpu_seconds] | all(. > 0)' "$json")"
check "crisp's overhead per call is measured and under 1 ms" true \
  "$(jq '.crisp_overhead.calls == 200 and .crisp_overhead.overhead_p50_us < 1000' "$json")"
check "bench.md has the table" yes "$(grep -q '^| RunPodSandbox |' "$reports/bench.md" && echo yes || echo no)"
set +e
node "$repo/tests/browser/bench-report.mjs" "$reports/bench.html" "$reports/bench.png"
rc=$?
set -e
check "bench.html in Chromium" 0 "$rc"
set +e
"$CRISP" diff "$json" "$json" > "$reports/diff.txt"
rc=$?
set -e
check "crisp diff of a bench.json with itself: no regression" 0 "$rc"
check "and says so" yes "$(grep -q '^0 regression(s), 0 improvement(s)' "$reports/diff.txt" && echo yes || echo no)"
check "density: 20 pods on each, no error, all removed" true \
  "$(jq '.density.runtimes | to_entries | all(.value.batches[-1].pods == 20 and .value.errors == 0 and .value.removed == 20)' "$json")"
check "population: each workload measured with 5 and 12 pods present" '["12","5"]["12","5"]' \
  "$(jq -c '.workloads[].population | keys' "$json" | tr -d '\n')"
check "12 pods present on each runtime at the last level, no error" true \
  "$(jq '.workloads[0].population["12"].present | to_entries | all(.value.pods == 12 and .value.errors == 0)' "$json")"
check "every population iteration passed" true \
  "$(jq '[.workloads[].population[].results[] | .failed_iterations == 0 and .iterations == 3] | all' "$json")"
check "the population removed at the end" '{"containerd":12,"reference":12}' "$(jq -c .population_removed "$json")"
check "bench.md has the population table" yes \
  "$(grep -q '^| RPC | containerd 0 | containerd 5 | containerd 12 |' "$reports/bench.md" && echo yes || echo no)"
check "nothing left on containerd" "$before" \
  "$("$CRISP" call -e "containerd=$CRISP_CONTAINERD_ENDPOINT" ListPodSandbox | jq '.items | length')"
finish
