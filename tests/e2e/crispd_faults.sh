#!/usr/bin/env bash
# crispd killed with SIGKILL inside RunPodSandbox, CreateContainer,
# StartContainer and PullImage, at named stages (CRISPD_FAULT, see
# host/stage_clock.h), then started again on the same root and state:
# every object is either absent, or listed and removable, a half-pulled
# image is not listed and pulls again, and once all is removed the host
# holds nothing the crispd made (host_snapshot in lib.sh). Last, its bridge
# deleted while it runs is made again by the next pod.
source "$(dirname "$0")/lib.sh"
CRISPD=${2:?usage: $0 CRISP CRISPD}
repo=$(cd "$(dirname "$0")/../.." && pwd)
base=$(mktemp -d /tmp/crispd-faults.XXXXXX)
bridge=crispd-flt
cidr=10.97.0.0/16
crispd_pid=""
cleanup() {
  [ -n "$crispd_pid" ] && kill -KILL "$crispd_pid" 2>/dev/null
  for dir in "$base"/*/; do
    [ -d "$dir/root" ] && "$CRISPD" reset --root "$dir/root" --state "$dir/state" --bridge "$bridge" --pod-cidr "$cidr" >/dev/null 2>&1
  done
  ip link del "$bridge" 2>/dev/null || true
  rm -rf "$base"
}
trap cleanup EXIT
before=$(host_snapshot "$base" "$cidr")

# start DIR [FAULT]: crispd on DIR's root and state, with CRISPD_FAULT set when given.
start() {
  dir=$1
  crispd_args "$dir" "$bridge" "$cidr"
  if [ -n "${2:-}" ]; then
    CRISPD_FAULT=$2 start_crispd
  else
    start_crispd
  fi
}
stop() { kill -TERM "$crispd_pid"; wait "$crispd_pid" 2>/dev/null || true; crispd_pid=""; }
sandbox_config() {
  jq -c --arg logs "$1/logs" '.log_directory = $logs | .port_mappings = []' "$repo/fixtures/testdata/sandbox_config.json"
}
container_config() {
  jq -nc '{metadata: {name: "sleeper"}, image: {image: "busybox:latest"}, command: ["sleep", "3600"], log_path: "sleeper/0.log"}'
}

# fault POINT: what to do up to the call that meets the fault, per point.
for point in RunPodSandbox:namespaces.pin RunPodSandbox:net.rest RunPodSandbox:files \
             CreateContainer:monitor+create StartContainer:runtime.start PullImage:layer PullImage:record; do
  dir="$base/${point//[:+.]/-}"
  mkdir -p "$dir/logs/sleeper"
  start "$dir"
  sandbox=$(sandbox_config "$dir")
  call PullImage '{"image": {"image": "busybox:latest"}}' >/dev/null
  pod="" ctr=""
  case $point in
    CreateContainer:*|StartContainer:*)
      pod=$(call RunPodSandbox "{\"config\": $sandbox}" | jq -r .pod_sandbox_id) ;;
  esac
  if [ "$point" = StartContainer:runtime.start ]; then
    ctr=$(call CreateContainer "{\"pod_sandbox_id\": \"$pod\", \"config\": $(container_config), \"sandbox_config\": $sandbox}" | jq -r .container_id)
  fi
  stop
  start "$dir" "$point"
  set +e
  case $point in
    RunPodSandbox:*) call RunPodSandbox "{\"config\": $sandbox}" > "$dir/call.out" 2>&1 ;;
    CreateContainer:*) call CreateContainer "{\"pod_sandbox_id\": \"$pod\", \"config\": $(container_config), \"sandbox_config\": $sandbox}" > "$dir/call.out" 2>&1 ;;
    StartContainer:*) call StartContainer "{\"container_id\": \"$ctr\"}" > "$dir/call.out" 2>&1 ;;
    PullImage:*) call PullImage '{"image": {"image": "docker.io/library/redis:7"}}' > "$dir/call.out" 2>&1 ;;
  esac
  rc=$?
  wait "$crispd_pid" 2>/dev/null
  status=$?
  set -e
  crispd_pid=""
  check "$point: the call failed" yes "$([ "$rc" -ne 0 ] && echo yes || echo no)"
  check "$point: crispd was killed there" "137 1" "$status $(grep -c "CRISPD_FAULT: killed after $point" "$dir/crispd.log")"

  start "$dir"
  # Every object listed can be stopped and removed.
  removable=yes
  for id in $(call ListContainers '{}' | jq -r '.containers[]?.id'); do
    call StopContainer "{\"container_id\": \"$id\", \"timeout\": 0}" >/dev/null 2>&1 || removable="no: StopContainer $id"
    call RemoveContainer "{\"container_id\": \"$id\"}" >/dev/null 2>&1 || removable="no: RemoveContainer $id"
  done
  for id in $(call ListPodSandbox '{}' | jq -r '.items[]?.id'); do
    call StopPodSandbox "{\"pod_sandbox_id\": \"$id\"}" >/dev/null 2>&1 || removable="no: StopPodSandbox $id"
    call RemovePodSandbox "{\"pod_sandbox_id\": \"$id\"}" >/dev/null 2>&1 || removable="no: RemovePodSandbox $id"
  done
  check "$point: every pod and container listed after the restart is removable" yes "$removable"
  check "$point: nothing listed once removed" "0 0" \
    "$(call ListPodSandbox '{}' | jq '.items | length') $(call ListContainers '{}' | jq '.containers | length')"
  if [[ $point == PullImage:* ]]; then
    listed=$(call ListImages '{}' | jq '[.images[] | select(.repo_tags | index("docker.io/library/redis:7"))] | length')
    # Killed before its record was saved, the image is not there; after, it is whole.
    expected=$([ "$point" = PullImage:record ] && echo 1 || echo 0)
    check "$point: the image is listed only if its pull finished" "$expected" "$listed"
    check "$point: it pulls again" yes "$(call PullImage '{"image": {"image": "docker.io/library/redis:7"}}' | jq -e '.image_ref | length > 0' >/dev/null && echo yes || echo no)"
    check "$point: and is listed" 1 "$(call ListImages '{}' | jq '[.images[] | select(.repo_tags | index("docker.io/library/redis:7"))] | length')"
  fi
  stop
  ip link del "$bridge" 2>/dev/null || true
  left=$(leaks_between "$before" "$(host_snapshot "$base" "$cidr")")
  check "$point: nothing of crispd's left on the host once all is removed" "" "$left"
done

# The bridge deleted behind crispd's back while it runs: the next pod makes
# it again and has a network.
dir="$base/bridge-deleted"
mkdir -p "$dir/logs"
start "$dir"
sandbox=$(sandbox_config "$dir")
first=$(call RunPodSandbox "{\"config\": $sandbox}" | jq -r .pod_sandbox_id)
ip link del "$bridge"
second_config=$(jq -c '.metadata.name = "second" | .metadata.uid = "second-uid"' <<<"$sandbox")
second=$(call RunPodSandbox "{\"config\": $second_config}" 2> "$dir/second.err" | jq -r '.pod_sandbox_id // empty') || true
check "bridge deleted: the next RunPodSandbox succeeds" yes "$([ -n "$second" ] && echo yes || echo "no: $(cat "$dir/second.err")")"
check "bridge deleted: the bridge is there again" yes "$(ip link show "$bridge" >/dev/null 2>&1 && echo yes || echo no)"
check "bridge deleted: the new pod has an address in the pod CIDR" yes \
  "$(call PodSandboxStatus "{\"pod_sandbox_id\": \"$second\"}" | jq -r '.status.network.ip' | grep -q "^${cidr%.*.*/*}\." && echo yes || echo no)"
for id in $first $second; do
  call StopPodSandbox "{\"pod_sandbox_id\": \"$id\"}" >/dev/null 2>&1 || true
  call RemovePodSandbox "{\"pod_sandbox_id\": \"$id\"}" >/dev/null 2>&1 || true
done
stop
ip link del "$bridge" 2>/dev/null || true
check "bridge deleted: nothing of crispd's left on the host once all is removed" "" \
  "$(leaks_between "$before" "$(host_snapshot "$base" "$cidr")")"
finish
