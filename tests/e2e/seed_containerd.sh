#!/usr/bin/env bash
# The seed suite on the real containerd: every scenario passes, junit.xml is
# valid XML with the expected shape, results.json carries every observation,
# and the run leaves no pod behind.
source "$(dirname "$0")/lib.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
reports=$(mktemp -d)
trap 'rm -rf "$reports"' EXIT
run_id="seed-$$-$RANDOM"

set +e
"$CRISP" run -e "containerd=$CRISP_CONTAINERD_ENDPOINT" --suite "$repo/suites/seed" \
  --run-id "$run_id" --report-dir "$reports"
rc=$?
set -e
check "crisp run exit code" 0 "$rc"

check "junit.xml is well-formed XML" yes "$(xmllint --noout "$reports/junit.xml" && echo yes || echo no)"
check "junit: one testsuite named seed" seed \
  "$(xmllint --xpath 'string(/testsuites/testsuite/@name)' "$reports/junit.xml")"
check "junit: 4 testcases" 4 "$(xmllint --xpath 'count(//testcase)' "$reports/junit.xml")"
check "junit: no failure, error or skipped" 0 \
  "$(xmllint --xpath 'count(//failure|//error|//skipped)' "$reports/junit.xml")"
check "junit: runtime property" "containerd $(jq -r .runtime.runtime_version "$reports/results.json")" \
  "$(xmllint --xpath 'string(//property[@name="runtime"]/@value)' "$reports/junit.xml")"

check "results.json schema" crisp.results/v1 "$(jq -r .schema "$reports/results.json")"
check "results.json: all 4 pass" 4 "$(jq .summary.pass "$reports/results.json")"
check "results.json: ExecSync observed PONG" '"PONG\n"' \
  "$(jq -c '[.scenarios[].steps[] | select(.method=="ExecSync") | .observations[-1].response.stdout][0]' "$reports/results.json")"
check "results.json: every call observation has a code and a latency" 0 \
  "$(jq '[.scenarios[].steps[] | select(.kind=="call") | .observations[] | select(.code == null or .latency_ns == null)] | length' "$reports/results.json")"
check "nothing swept (cleanup left nothing)" 0 "$(jq .sweep.removed "$reports/results.json")"
check "no pod of the run remains" 0 "$("$CRISP" call ListPodSandbox -e "$CRISP_CONTAINERD_ENDPOINT" \
  -d "{\"filter\": {\"label_selector\": {\"crisp.run-id\": \"$run_id\"}}}" | jq '.items | length')"
finish
