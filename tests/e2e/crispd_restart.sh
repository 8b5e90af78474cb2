#!/usr/bin/env bash
# crispd restarts between StartContainer and ExecSync: the container keeps
# running (conmon outlives crispd), crispd recovers its sandboxes and
# containers from its state, and the redis flow goes on to the end.
source "$(dirname "$0")/lib.sh"
CRISPD=${2:?usage: $0 CRISP CRISPD}
repo=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(mktemp -d /tmp/crispd-restart.XXXXXX)
crispd_args "$dir" crispd-rs 10.94.0.0/16
trap 'remove_test_crispd crispd-rs' EXIT

start_crispd
sandbox=$(jq -c '.log_directory = "'"$dir"'/logs"' "$repo/fixtures/testdata/sandbox_config.json")
call PullImage '{"image": {"image": "redis:alpine"}}' >/dev/null
pod=$(call RunPodSandbox "{\"config\": $sandbox}" | jq -r .pod_sandbox_id)
ctr=$(call CreateContainer "{\"pod_sandbox_id\": \"$pod\", \"config\": $(cat "$repo/fixtures/testdata/container_redis.json"), \"sandbox_config\": $sandbox}" | jq -r .container_id)
call StartContainer "{\"container_id\": \"$ctr\"}" >/dev/null
# redis renames its process once it listens; wait for that.
redis_pid=""
for _ in $(seq 1 100); do
  redis_pid=$(pgrep -f 'redis-server \*:6379' | tail -1 || true)
  [ -n "$redis_pid" ] && break
  sleep 0.1
done
check "redis is up before the restart" yes "$([ -n "$redis_pid" ] && echo yes || echo no)"

kill -TERM "$crispd_pid"
wait "$crispd_pid" || true
check "redis kept running while crispd was down" yes "$(kill -0 "$redis_pid" 2>/dev/null && echo yes || echo no)"
start_crispd

check "the container is RUNNING after the restart" CONTAINER_RUNNING \
  "$(call ContainerStatus "{\"container_id\": \"$ctr\"}" | jq -r .status.state)"
check "the sandbox is READY after the restart" SANDBOX_READY \
  "$(call PodSandboxStatus "{\"pod_sandbox_id\": \"$pod\"}" | jq -r .status.state)"
pong=""
for _ in $(seq 1 40); do
  pong=$(call ExecSync "{\"container_id\": \"$ctr\", \"cmd\": [\"redis-cli\", \"ping\"], \"timeout\": 10}" | jq -c .stdout) && [ "$pong" = '"PONG\n"' ] && break
  sleep 0.25
done
check "ExecSync after the restart" '"PONG\n"' "$pong"
call StopContainer "{\"container_id\": \"$ctr\", \"timeout\": 10}" >/dev/null
check "the container EXITED after StopContainer" CONTAINER_EXITED \
  "$(call ContainerStatus "{\"container_id\": \"$ctr\"}" | jq -r .status.state)"
call RemoveContainer "{\"container_id\": \"$ctr\"}" >/dev/null
call RemovePodSandbox "{\"pod_sandbox_id\": \"$pod\"}" >/dev/null
check "nothing left on crispd" 0 "$(call ListPodSandbox '{}' | jq '.items | length')"
check "no conmon left" "" "$(pgrep -f "conmon .*$dir" || true)"
finish
