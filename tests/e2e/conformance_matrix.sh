#!/usr/bin/env bash
# Every suite on every runtime of the environment at once: containerd,
# CRI-O (when ci/env has it) and the bundled crispd, two scenarios at a time
# each, with the baseline: no runtime fails or errors beyond its known
# failures, every n.a. and known has its reason, and no pod of the run
# remains on containerd or CRI-O. Prints each runtime's summary and the
# wall time.
source "$(dirname "$0")/lib.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
reports=$(mktemp -d)
trap 'rm -rf "$reports"' EXIT
endpoints=(-e "containerd=$CRISP_CONTAINERD_ENDPOINT")
names="containerd"
if [ -n "${CRISP_CRIO_ENDPOINT:-}" ]; then
  endpoints+=(-e "crio=$CRISP_CRIO_ENDPOINT")
  names="$names crio"
else
  echo "e2e: CRI-O is not in this environment (ci/env found no build in ../shared/peers/cri-o): the matrix runs without it" >&2
fi
endpoints+=(-e reference)
names="$names reference"
start=$(date +%s.%N)
set +e
"$CRISP" "${mirrors[@]}" matrix "${endpoints[@]}" --suite "$repo/suites" -j 2 \
  --baseline "$repo/fixtures/baselines/known-failures.yaml" --report-dir "$reports"
rc=$?
set -e
end=$(date +%s.%N)
results="$reports/results.json"
jq -r '.runs[] | "\(.endpoint.name): \(.summary | tostring)"' "$results"
echo "matrix of $names over every suite: $(awk "BEGIN {printf \"%.1f\", $end - $start}") s wall (-j 2 each)"
check "crisp matrix exit code (fail and error: none beyond the baseline)" 0 "$rc"
check "runtimes" "$names" "$(jq -r '[.runs[].endpoint.name] | join(" ")' "$results")"
check "every runtime ran every scenario" true \
  "$(jq '[.runs[].summary.total] | (unique | length == 1) and .[0] > 100' "$results")"
check "no fail or error anywhere" 0 "$(jq '[.runs[].summary | .fail + .error] | add' "$results")"
check "every n.a. and known has its reason" true \
  "$(jq '[.runs[].scenarios[] | select(.verdict == "na" or .verdict == "known") | .reason != ""] | all' "$results")"
for runtime in $names; do
  check "junit-$runtime.xml is well-formed" yes "$(xmllint --noout "$reports/junit-$runtime.xml" && echo yes || echo no)"
done
for pair in "containerd=$CRISP_CONTAINERD_ENDPOINT" ${CRISP_CRIO_ENDPOINT:+"crio=$CRISP_CRIO_ENDPOINT"}; do
  runtime=${pair%%=*}
  run_id=$(jq -r --arg n "$runtime" '.runs[] | select(.endpoint.name == $n) | .run_id' "$results")
  check "no pod of the run remains on $runtime" 0 "$("$CRISP" call ListPodSandbox -e "${pair#*=}" \
    -d "{\"filter\": {\"label_selector\": {\"crisp.run-id\": \"$run_id\"}}}" | jq '.items | length')"
done
finish
