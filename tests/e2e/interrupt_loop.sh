#!/usr/bin/env bash
# SIGINT at a random moment, N times in a row (default 100), on a private
# crispd and on ci/env's containerd: every run must exit 130 and leave
# nothing (no pod of the run on the runtime; host_snapshot unchanged). A
# long test, run by hand or nightly, not in CI:
#   tests/e2e/interrupt_loop.sh CRISP CRISPD [N] [SUMMARY.json]
# The summary (per runtime: iterations, exits 130, runs that left
# something, seconds) is what ci/reliability-report --sigint reads.
source "$(dirname "$0")/lib.sh"
CRISPD=${2:?usage: $0 CRISP CRISPD [N] [SUMMARY.json]}
iterations=${3:-100}
summary=${4:-/dev/null}
suite="$(dirname "$0")/suites/slow.yaml"
dir=$(mktemp -d /tmp/crisp-sigint.XXXXXX)
cidr=10.99.0.0/16
crispd_args "$dir" crispd-sig "$cidr"
crispd_pid=""
cleanup() {
  [ -n "$crispd_pid" ] && kill -TERM "$crispd_pid" 2>/dev/null && wait "$crispd_pid" 2>/dev/null
  "$CRISPD" reset --root "$dir/root" --state "$dir/state" --bridge crispd-sig --pod-cidr "$cidr" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
start_crispd
rows=()
for runtime in crispd containerd; do
  if [ "$runtime" = crispd ]; then endpoint="unix://$socket" pattern=$dir net=$cidr
  else endpoint=$CRISP_CONTAINERD_ENDPOINT pattern=$CRISP_ENV_DIR/containerd net=$CRISP_POD_CIDR; fi
  before=$(host_snapshot "$pattern" "$net")
  exits=0 leaky=0 started=$SECONDS
  for i in $(seq 1 "$iterations"); do
    run_id="sigint-$runtime-$$-$i"
    "$CRISP" run -e "$runtime=$endpoint" --suite "$suite" -j 2 --run-id "$run_id" > "$dir/run.log" 2>&1 &
    pid=$!
    # 0.1 to 2.9 s: pulls, pod starts, creates, execs in flight (before 0.1 s
    # crisp may not have started: a shell's background job ignores SIGINT until then)
    sleep "$((RANDOM % 3)).$((1 + RANDOM % 9))"
    kill -INT "$pid"
    rc=0
    wait "$pid" || rc=$?
    [ "$rc" = 130 ] && exits=$((exits + 1)) || echo "iteration $i on $runtime: exit $rc" >&2
    left=$("$CRISP" call ListPodSandbox -e "$endpoint" -d "{\"filter\": {\"label_selector\": {\"crisp.run-id\": \"$run_id\"}}}" | jq '.items | length')
    # (crispd's bridge, made with its first pod, stays while crispd runs)
    after=$(leaks_between "$before" "$(host_snapshot "$pattern" "$net")" | grep -v '^link crispd-sig$' || true)
    if [ "$left" != 0 ] || [ -n "$after" ]; then
      leaky=$((leaky + 1))
      echo "iteration $i on $runtime left: $left pod(s); $after" >&2
      "$CRISP" clean -e "$endpoint" -l "crisp.run-id=$run_id" >/dev/null 2>&1 || true
    fi
  done
  seconds=$((SECONDS - started))
  check "$runtime: $iterations SIGINTs, each run exited 130" "$iterations" "$exits"
  check "$runtime: no run left anything" 0 "$leaky"
  rows+=("$(jq -nc --arg runtime "$runtime" --argjson iterations "$iterations" --argjson exits "$exits" \
    --argjson leaky "$leaky" --argjson seconds "$seconds" \
    '{runtime: $runtime, iterations: $iterations, exit_130: $exits, leaky: $leaky, seconds: $seconds}')")
done
printf '%s\n' "${rows[@]}" | jq -s '{runtimes: .}' > "$summary"
finish
