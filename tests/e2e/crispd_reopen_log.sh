#!/usr/bin/env bash
# ReopenContainerLog on crispd: after the log is renamed away, a reopen
# makes conmon write a new file; on a stopped container it is an error and
# no new file appears.
source "$(dirname "$0")/lib.sh"
CRISPD=${2:?usage: $0 CRISP CRISPD}
repo=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(mktemp -d /tmp/crispd-reopen.XXXXXX)
socket="$dir/crispd.sock"
"$CRISPD" --listen "unix://$socket" --root "$dir/root" --state "$dir/state" --bridge crispd-rl \
  --pod-cidr 10.92.0.0/16 --registry-mirror "docker.io=http://$CRISP_REGISTRY" > "$dir/crispd.log" 2>&1 &
crispd_pid=$!
cleanup() {
  "$CRISP" clean -e "$socket" --all >/dev/null 2>&1 || true
  kill "$crispd_pid" 2>/dev/null || true
  wait "$crispd_pid" 2>/dev/null || true
  ip link del crispd-rl 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
for _ in $(seq 1 100); do [ -S "$socket" ] && break; sleep 0.1; done
call() { "$CRISP" --timeout 2m call "$1" -e "$socket" -d "$2"; }

sandbox=$(jq -c --arg logs "$dir/logs" '.log_directory = $logs | del(.port_mappings)' "$repo/fixtures/testdata/sandbox_config.json")
call PullImage '{"image": {"image": "busybox"}}' > /dev/null
pod=$(call RunPodSandbox "{\"config\": $sandbox}" | jq -r .pod_sandbox_id)
ctr=$(call CreateContainer "{\"pod_sandbox_id\": \"$pod\", \"sandbox_config\": $sandbox, \"config\": {\"metadata\": {\"name\": \"ticker\"}, \"image\": {\"image\": \"busybox\"}, \"command\": [\"sh\", \"-c\", \"while true; do echo tick; sleep 0.1; done\"], \"log_path\": \"ticker.log\"}}" | jq -r .container_id)
call StartContainer "{\"container_id\": \"$ctr\"}" > /dev/null
sleep 0.5
mv "$dir/logs/ticker.log" "$dir/logs/ticker.log.1"
check "ReopenContainerLog on a running container" "{}" "$(call ReopenContainerLog "{\"container_id\": \"$ctr\"}" | jq -c .)"
sleep 0.5
check "conmon writes a new log file" yes "$([ -s "$dir/logs/ticker.log" ] && echo yes || echo no)"
check "the rotated file keeps the old lines" yes "$(grep -q ' stdout F tick' "$dir/logs/ticker.log.1" && echo yes || echo no)"

call StopContainer "{\"container_id\": \"$ctr\", \"timeout\": 0}" > /dev/null
rm "$dir/logs/ticker.log"
set +e
message=$(call ReopenContainerLog "{\"container_id\": \"$ctr\"}" 2>&1)
rc=$?
set -e
check "ReopenContainerLog on a stopped container is an error" 1 "$rc"
check "and no new log file is made" no "$([ -e "$dir/logs/ticker.log" ] && echo yes || echo no)"
echo "$message"
finish
