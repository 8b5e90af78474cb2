#!/usr/bin/env bash
# ci/env up and down, on an environment of its own (instance 7): the redis
# lifecycle runs on it, a pod is left running on purpose on containerd and on
# CRI-O, and after `down` no mount, network namespace, process, cgroup,
# iptables rule or bridge of it remains.
set -euo pipefail
shopt -s inherit_errexit  # a failed call inside $(leave_pod ...) ends the test
CRISP=${1:?usage: $0 CRISP LIFECYCLE_TEST}
LIFECYCLE_TEST=${2:?usage: $0 CRISP LIFECYCLE_TEST}
repo=$(cd "$(dirname "$0")/../.." && pwd)

export CRISP_ENV_DIR=/tmp/crisp-env-lifecycle-$$
export CRISP_ENV_INSTANCE=7
unset CRISP_REGISTRY_PORT CRISP_POD_CIDR
trap '"$repo/ci/env" down >/dev/null 2>&1 || true' EXIT

"$repo/ci/env" up
# shellcheck disable=SC1091
source "$CRISP_ENV_DIR/env"
registry_port=${CRISP_REGISTRY##*:}

"$LIFECYCLE_TEST"

# A pod (with a port mapping) and a running container left behind, as a
# killed run would leave them.
config=$(jq -c --argjson port $((20000 + RANDOM % 10000)) \
  '.metadata.name += "-leftover" | .port_mappings[0].host_port = $port' \
  "$repo/fixtures/testdata/sandbox_config.json")
# leave_pod ENDPOINT: runs the leftover pod and its redis container there;
# prints "POD CONTAINER".
leave_pod() {
  local endpoint=$1 pod container
  "$CRISP" call PullImage -e "$endpoint" --timeout 2m -d '{"image": {"image": "redis:alpine"}}' >/dev/null
  pod=$("$CRISP" call RunPodSandbox -e "$endpoint" --timeout 2m -d "{\"config\": $config}" | jq -r .pod_sandbox_id)
  container=$("$CRISP" call CreateContainer -e "$endpoint" --timeout 1m \
    -d "{\"pod_sandbox_id\": \"$pod\", \"config\": $(cat "$repo/fixtures/testdata/container_redis.json"), \"sandbox_config\": $config}" |
    jq -r .container_id)
  "$CRISP" call StartContainer -e "$endpoint" -d "{\"container_id\": \"$container\"}" >/dev/null
  echo "$pod $container"
}
cd_ids=$(leave_pod "$CRISP_CONTAINERD_ENDPOINT")
echo "left containerd pod and container running: $cd_ids"

# The same on CRI-O, when the environment has it: conmon processes outlive
# CRI-O itself.
crio_ids=""
if [ -n "${CRISP_CRIO_ENDPOINT:-}" ]; then
  crio_ids=$(leave_pod "$CRISP_CRIO_ENDPOINT")
  echo "left CRI-O pod and container running: $crio_ids"
else
  echo "CRI-O is not in this environment: its part of the check is skipped" >&2
fi

# The task IDs, to look for their processes after `down`.
task_ids=$(ls "$CRISP_ENV_DIR/containerd/state/io.containerd.runtime.v2.task/k8s.io/")
"$repo/ci/env" down
trap - EXIT

failures=0
check_none() {  # DESCRIPTION OUTPUT
  if [ -n "$2" ]; then
    echo "FAIL: $1 remain(s):" >&2
    echo "$2" | head -20 >&2
    failures=$((failures + 1))
  else
    echo "ok: no $1"
  fi
}
check_none "environment directory" "$(ls -d "$CRISP_ENV_DIR" 2>/dev/null || true)"
check_none "mounts" "$(grep -F "$CRISP_ENV_DIR" /proc/self/mountinfo || true)"
check_none "processes" "$(grep -lF "$CRISP_ENV_DIR" /proc/[0-9]*/cmdline 2>/dev/null || true)"
leftover_tasks=""
for id in $task_ids; do
  leftover_tasks+=$(grep -l -- "/$id\$" /proc/[0-9]*/cgroup 2>/dev/null || true)
done
check_none "container processes" "$leftover_tasks"
leftover_netns=""
for ns in $(ls /var/run/netns 2>/dev/null); do
  if ip -n "$ns" -4 -o addr show 2>/dev/null | grep -q ' inet 10\.95\.'; then leftover_netns+="$ns "; fi
done
check_none "network namespaces in 10.95.0.0/16" "$leftover_netns"
check_none "iptables rules" "$(iptables-save 2>/dev/null | grep -F crisp-containerd-7 || true)"
check_none "bridge" "$(ip -o link show crisp-cd7 2>/dev/null || true)"
check_none "registry listener" "$(ss -Hltn "sport = :$registry_port" || true)"
leftover_crio=""
for id in $crio_ids; do
  leftover_crio+=$(grep -l -- "$id" /proc/[0-9]*/cgroup 2>/dev/null || true)
  leftover_crio+=$(find /sys/fs/cgroup -maxdepth 3 -type d -name "*$id*" 2>/dev/null || true)
done
check_none "CRI-O container processes or cgroups" "$leftover_crio"
leftover_netns=""
for ns in $(ls /var/run/netns 2>/dev/null); do
  if ip -n "$ns" -4 -o addr show 2>/dev/null | grep -q ' inet 10\.127\.'; then leftover_netns+="$ns "; fi
done
check_none "network namespaces in 10.127.0.0/16 (CRI-O's)" "$leftover_netns"
check_none "CRI-O iptables rules" "$(iptables-save 2>/dev/null | grep -F crisp-crio-7 || true)"
check_none "CRI-O bridge" "$(ip -o link show crisp-crio7 2>/dev/null || true)"
check_none "CNI results" "$(ls /var/lib/cni/results/crisp-crio-7-* 2>/dev/null || true)"
[ "$failures" -eq 0 ] || exit 1
