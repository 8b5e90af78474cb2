#!/usr/bin/env bash
# crisp against a minimal-but-correct runtime (issue 22): crispd with one
# --quirk at a time behaves as some runtimes do, and the suites must show
# exactly the documented outcome (docs/kubelet-fidelity.md):
# - no-log-directory: the runtime makes no log directory; crisp makes them
#   as the kubelet does, so everything passes, and the scenario that leaves
#   the directory to the runtime sees CreateContainer refused;
# - scheme-relative-urls: streams are dialled as http and pass, with
#   url_form "scheme-relative"; only the three *-returns-url scenarios fail
#   (api.proto asks for a fully qualified URL);
# - unknown-on-missing: the idempotence scenarios that stop or remove what
#   is gone fail, cleanup records findings instead of erroring, and nothing
#   is left behind.
source "$(dirname "$0")/lib.sh"
CRISPD=${2:?usage: $0 CRISP CRISPD}
repo=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(mktemp -d /tmp/crisp-minimal.XXXXXX)
crispd_pid=""
stop_crispd() {
  [ -n "$crispd_pid" ] || return 0
  "$CRISP" clean -e "$socket" --all >/dev/null 2>&1 || true
  kill "$crispd_pid" 2>/dev/null || true
  wait "$crispd_pid" 2>/dev/null || true
  crispd_pid=""
}
cleanup() {
  stop_crispd
  ip link del crispd-min 2>/dev/null || true
  { grep -F "$dir" /proc/self/mountinfo || true; } | awk '{print $5}' | sort -r | xargs -r -n1 umount -l
  rm -rf "$dir"
}
trap cleanup EXIT

# run_quirk QUIRK SUITE...: a fresh crispd with that quirk, the seed and
# container suites and the given ones on it; the reports go to $dir/QUIRK.
run_quirk() {
  local quirk=$1
  shift
  crispd_args "$dir" crispd-min 10.96.0.0/16 "${mirrors[@]}" --quirk "$quirk"
  start_crispd
  check "$quirk: crispd says it is not the reference" 1 "$(grep -c "quirks on ($quirk)" "$dir/crispd.log")"
  local suites=(--suite "$repo/suites/seed" --suite "$repo/suites/container")
  for suite in "$@"; do suites+=(--suite "$repo/suites/$suite"); done
  set +e
  "$CRISP" run -e "$quirk=unix://$socket" "${suites[@]}" -j 2 "${mirrors[@]}" --report-dir "$dir/$quirk" > "$dir/$quirk.out" 2>&1
  set -e
  results="$dir/$quirk/results.json"
  check "$quirk: no scenario errored" 0 "$(jq .summary.error "$results")"
  check "$quirk: nothing swept (cleanup left nothing)" 0 "$(jq .sweep.removed "$results")"
  check "$quirk: no pod left" 0 "$("$CRISP" call ListPodSandbox -e "$socket" | jq '.items | length')"
  check "$quirk: no container left" 0 "$("$CRISP" call ListContainers -e "$socket" | jq '.items | length')"
  stop_crispd
}
# The IDs of the scenarios with this verdict, sorted, on one line.
verdicts() { jq -r --arg v "$2" '[.scenarios[] | select(.verdict == $v) | .id] | sort | join(" ")' "$1"; }

run_quirk no-log-directory logs
results="$dir/no-log-directory/results.json"
check "no-log-directory: nothing failed" "" "$(verdicts "$results" fail)"
check "no-log-directory: the runtime refuses a container whose log directory nobody made" \
  "CreateContainer:Internal" \
  "$(jq -r '.scenarios[] | select(.id == "logs.container-log-directory-by-runtime") | .steps[]
            | select(.method == "CreateContainer") | "\(.method):\(.observations[0].code_name)"' "$results")"
check "no-log-directory: every scenario that writes a log found it" 0 \
  "$(jq '[.scenarios[] | select(.id | startswith("logs.")) | select(.verdict != "pass")] | length' "$results")"

run_quirk scheme-relative-urls streaming
results="$dir/scheme-relative-urls/results.json"
check "scheme-relative-urls: only the fully-qualified-URL checks failed" \
  "streaming.attach-returns-url streaming.exec-returns-url streaming.portforward-returns-url" \
  "$(verdicts "$results" fail)"
check "scheme-relative-urls: every stream was dialled and recorded its URL form" scheme-relative \
  "$(jq -r '[.. | objects | .url_form? // empty] | unique | join(",")' "$results")"
check "scheme-relative-urls: streams ran" yes \
  "$([ "$(jq '[.. | objects | .url_form? // empty] | length' "$results")" -ge 20 ] && echo yes || echo no)"

run_quirk unknown-on-missing idempotence streaming
results="$dir/unknown-on-missing/results.json"
check "unknown-on-missing: only the idempotence rules for what is gone failed" \
  "idempotence.remove-container-twice idempotence.remove-container-unknown idempotence.remove-sandbox-unknown idempotence.stop-container-unknown idempotence.stop-sandbox-unknown" \
  "$(verdicts "$results" fail)"
findings=$(jq -r '[.scenarios[].findings // [] | .[]] | unique | join("; ")' "$results")
check "unknown-on-missing: cleanup recorded what the runtime answered as a finding" \
  "RemoveContainer of a container already gone answered Unknown, not OK or NotFound" "$findings"
finish
