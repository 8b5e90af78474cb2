#!/usr/bin/env bash
# crispd under load, then killed, then reset:
#  1. 20 parallel RunPodSandbox + CreateContainer + StartContainer +
#     RemovePodSandbox cycles, 5 rounds (crisp_concurrency_bench): 0 errors,
#     and nothing left behind (netns, mounts, veths, processes, IPs).
#  2. two pods with running containers (one with a host port), then crispd
#     is killed with SIGKILL; `crispd reset` must leave the host as it was
#     before crispd started.
source "$(dirname "$0")/lib.sh"
CRISPD=${2:?usage: $0 CRISP CRISPD CONCURRENCY_BENCH}
BENCH=${3:?usage: $0 CRISP CRISPD CONCURRENCY_BENCH}
repo=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(mktemp -d /tmp/crispd-reset.XXXXXX)
socket="$dir/crispd.sock"
bridge=crispd-rst
dir_args=(--root "$dir/root" --state "$dir/state" --bridge "$bridge" --pod-cidr 10.95.0.0/16)
args=(--listen "unix://$socket" "${dir_args[@]}" "${mirrors[@]}")
crispd_pid=""
cleanup() {
  [ -n "$crispd_pid" ] && kill -KILL "$crispd_pid" 2>/dev/null
  "$CRISPD" reset "${dir_args[@]}" >/dev/null 2>&1 || true
  rm -rf "$dir" /tmp/crisp-bench-logs
}
trap cleanup EXIT

# What the host has of the kind crispd makes, to compare before and after.
host_state() {
  echo "netns: $(ip netns list | awk '{print $1}' | sort | tr '\n' ' ')"
  echo "links: $(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort | tr '\n' ' ')"
  echo "mounts: $(grep -c -F "$dir" /proc/self/mountinfo || true)"
  echo "processes: $(pgrep -f -- "$dir/" | grep -v -x -e "$$" -e "${crispd_pid:-none}" | wc -l)"
  echo "nat rules: $(iptables-save -t nat 2>/dev/null | grep -c '10\.95\.' || true)"
}
before=$(host_state)

start_crispd

# 1. Parallel cycles.
CRISP_BENCH_ENDPOINTS="crispd=unix://$socket" "$BENCH" --benchmark_filter='ParallelCycles' \
  --benchmark_format=json --benchmark_out="$dir/cycles.json" --benchmark_out_format=json >/dev/null 2>"$dir/bench.err" || true
check "20 parallel pod cycles x 5: no error" "0 false" \
  "$(jq -r '.benchmarks[0] | "\(.errors) \(.error_occurred // false)"' "$dir/cycles.json" 2>/dev/null || echo "no result: $(tail -3 "$dir/bench.err")")"
check "no sandbox listed after the cycles" 0 "$(call ListPodSandbox '{}' | jq '.items | length')"
check "no IP still allocated after the cycles" "" \
  "$(find "$dir/state/ipam" -type f -name '10.95.*' 2>/dev/null | tr '\n' ' ')"
check "no conmon or container left after the cycles" 0 "$(pgrep -f -- "$dir/state/containers" | wc -l)"
after_cycles=$(host_state | grep -v '^links:')  # the bridge stays while crispd runs
check "the host after the cycles, but for the bridge" "$(echo "$before" | grep -v '^links:')" "$after_cycles"

# 2. Pods left running, crispd killed.
pods=()
call PullImage '{"image": {"image": "busybox:latest"}}' >/dev/null
for n in 1 2; do
  sandbox=$(jq -c --arg logs "$dir/logs/$n" --arg n "$n" '.log_directory = $logs | .metadata.name += "-reset-" + $n
      | .metadata.uid += "-reset-" + $n | .port_mappings = (if $n == "1" then [{"container_port": 80, "host_port": 18095}] else [] end)' \
    "$repo/fixtures/testdata/sandbox_config.json")
  mkdir -p "$dir/logs/$n/sleeper"
  pod=$(call RunPodSandbox "{\"config\": $sandbox}" | jq -r .pod_sandbox_id)
  pods+=("$pod")
  config=$(jq -nc --argjson s "$sandbox" '{metadata: {name: "sleeper"}, image: {image: "busybox:latest"},
      command: ["sleep", "3600"], log_path: "sleeper/0.log",
      linux: {security_context: {namespace_options: $s.linux.security_context.namespace_options}}}')
  ctr=$(call CreateContainer "{\"pod_sandbox_id\": \"$pod\", \"config\": $config, \"sandbox_config\": $sandbox}" | jq -r .container_id)
  call StartContainer "{\"container_id\": \"$ctr\"}" >/dev/null
done
check "the console sockets are in crispd's state" yes "$([ -d "$dir/state/console" ] && echo yes || echo no)"
check "two pods running" 2 "$(call ListContainers '{}' | jq '[.containers[] | select(.state == "CONTAINER_RUNNING")] | length')"
kill -KILL "$crispd_pid"
wait "$crispd_pid" 2>/dev/null || true
crispd_pid=""

"$CRISPD" reset "${dir_args[@]}" > "$dir/reset.out" 2>&1
check "crispd reset exits 0" 0 "$?"
check "it reports what it removed" yes "$(grep -q 'deleted network namespace' "$dir/reset.out" && grep -q 'deleted bridge' "$dir/reset.out" && echo yes || echo no)"
check "the host as before crispd started" "$before" "$(host_state)"
# The kubelet's default pod has no infra process: its own cgroup is crispd's to remove.
check "no pod cgroup left" "" "$(for pod in "${pods[@]}"; do ls -d /sys/fs/cgroup/*/crispd/"$pod" 2>/dev/null; done)"
# (runc list would make its root again: look at the directory instead)
check "no OCI runtime state left" no "$([ -e "$dir/state/oci" ] && echo yes || echo no)"
check "no console socket directory left" no "$([ -e "$dir/state/console" ] && echo yes || echo no)"
"$CRISPD" reset "${dir_args[@]}" > "$dir/reset2.out" 2>&1
check "a second reset finds nothing" "" "$(grep -v '^crispd reset: removed 0 thing(s), 0 error(s)$' "$dir/reset2.out")"
finish
