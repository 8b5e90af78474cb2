#!/usr/bin/env bash
# crisp matrix of containerd and the reference runtime over the seed suite:
# all pass on both, the reports are there and well-formed, and matrix.html
# works in headless Chromium. (The conformance suites are not expected to
# pass on crispd yet; conformance_containerd runs them on containerd.)
source "$(dirname "$0")/lib.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
reports=$(mktemp -d)
trap 'rm -rf "$reports"' EXIT
set +e
"$CRISP" "${mirrors[@]}" matrix -e "containerd=$CRISP_CONTAINERD_ENDPOINT" -e reference \
  --suite "$repo/suites/seed" -j 2 --report-dir "$reports"
rc=$?
set -e
check "crisp matrix exit code" 0 "$rc"
check "results.json is a matrix" crisp.matrix/v1 "$(jq -r .schema "$reports/results.json")"
check "two runs" "containerd reference" "$(jq -r '[.runs[].endpoint.name] | join(" ")' "$reports/results.json")"
check "same scenario count on both" true \
  "$(jq '.runs[0].summary.total == .runs[1].summary.total and .runs[0].summary.total > 0' "$reports/results.json")"
for runtime in containerd reference; do
  check "junit-$runtime.xml is well-formed" yes "$(xmllint --noout "$reports/junit-$runtime.xml" && echo yes || echo no)"
done
check "the runtimes ran at the same time" true \
  "$(jq '.runs[0].start < .runs[1].end and .runs[1].start < .runs[0].end' "$reports/results.json")"
# Both pass everything, yet they answer differently: the matrix must see it.
check "field-level differences found" true \
  "$(jq '[.differences[].fields | length] | add > 0' "$reports/results.json")"
check "summary.md lists them" yes \
  "$(grep -q '^  - `response\.' "$reports/summary.md" && echo yes || echo no)"
check "summary.md has the table" yes "$(grep -q '^| scenario | containerd' "$reports/summary.md" && echo yes || echo no)"
# matrix.html in headless Chromium: renders, a click shows the cell, filters filter.
set +e
node "$repo/tests/browser/matrix-report.mjs" "$reports/matrix.html" "$reports/matrix.png"
rc=$?
set -e
check "matrix.html in Chromium" 0 "$rc"
check "a screenshot beside the reports" yes "$([ -s "$reports/matrix.png" ] && echo yes || echo no)"
finish
