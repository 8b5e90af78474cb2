#!/usr/bin/env bash
# crisp's junit.xml, read back by a standard JUnit consumer (the npm package
# junit2json): pass, fail and error kept apart, counts and properties right;
# and the run's report.html, checked in headless Chromium.
source "$(dirname "$0")/lib.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
reports=$(mktemp -d)
trap 'rm -rf "$reports"' EXIT
set +e
"$CRISP" run -e "containerd=$CRISP_CONTAINERD_ENDPOINT" --suite "$(dirname "$0")/suites/verdicts.yaml" \
  --report-dir "$reports"
rc=$?
set -e
check "a run with a failure exits 1" 1 "$rc"
check "verdicts as designed" "pass fail error" "$(jq -r '[.scenarios[].verdict] | join(" ")' "$reports/results.json")"
set +e
node "$repo/tests/browser/junit-readback.mjs" "$reports/junit.xml" "$reports/results.json"
rc=$?
set -e
check "junit2json reads junit.xml as results.json says" 0 "$rc"
# report.html, the run's page for people, in headless Chromium.
set +e
node "$repo/tests/browser/matrix-report.mjs" "$reports/report.html" "$reports/report.png"
rc=$?
set -e
check "report.html in Chromium" 0 "$rc"
finish
