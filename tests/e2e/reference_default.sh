#!/usr/bin/env bash
# The embedded default: `crisp run` with no -e starts a private crispd,
# runs the seed suite on it (through the local registry's mirrors), and
# leaves nothing behind: no crispd, no temporary directory, no bridge,
# no netns, no mount.
source "$(dirname "$0")/lib.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
before_dirs=$(ls -d /tmp/crisp-reference-* 2>/dev/null | sort || true)
reports=$(mktemp -d)
trap 'rm -rf "$reports"' EXIT

set +e
"$CRISP" "${mirrors[@]}" run --suite "$repo/suites/seed" --report-dir "$reports"
rc=$?
set -e
check "crisp run with no -e" 0 "$rc"
check "it ran on crispd" crispd "$(jq -r .runtime.runtime_name "$reports/results.json")"
check "the endpoint is named reference" reference "$(jq -r .endpoint.name "$reports/results.json")"
check "all seed scenarios passed" 4 "$(jq .summary.pass "$reports/results.json")"
check "no private crispd left running" "" "$(pgrep -f 'crispd --listen unix:///tmp/crisp-reference-' || true)"
check "no temporary directory left" "$before_dirs" "$(ls -d /tmp/crisp-reference-* 2>/dev/null | sort || true)"
check "no mount left" "" "$(grep -F /tmp/crisp-reference- /proc/self/mountinfo || true)"
check "no crispd netns left" "" "$(ip netns list | grep crispd- || true)"
check "no private bridge left" "" "$(ip -o link show | grep -o 'crisp[a-z0-9]\{6\}' || true)"
finish
