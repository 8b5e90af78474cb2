#!/usr/bin/env bash
# crispd for real: the seed suite passes on it (pull, pod, redis container,
# exec, log, stop, remove); it pulls the same image ID as containerd; layers
# that try to escape fail the pull with a clear error and write nothing
# outside the store; the phase-1 scenarios (sandbox lifecycle, ExecSync)
# pass; exec and port-forward streams work; and nothing is left after. (The
# rest of the conformance suites are crispd's next phase: see the matrix in
# the README.)
source "$(dirname "$0")/lib.sh"
CRISPD=${2:?usage: $0 CRISP CRISPD}
repo=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(mktemp -d /tmp/crispd-e2e.XXXXXX)
socket="$dir/crispd.sock"
# Its own bridge and subnet, apart from containerd's.
"$CRISPD" --listen "unix://$socket" --root "$dir/root" --state "$dir/state" "${mirrors[@]}" \
  --bridge crispd-e2e --pod-cidr 10.97.0.0/16 \
  > "$dir/crispd.log" 2>&1 &
crispd_pid=$!
cleanup() {
  kill "$crispd_pid" 2>/dev/null || true
  wait "$crispd_pid" 2>/dev/null || true
  ip link del crispd-e2e 2>/dev/null || true
  rm -rf "$dir" /tmp/crisp-evil-*
}
trap cleanup EXIT
for _ in $(seq 1 50); do [ -S "$socket" ] && break; sleep 0.1; done

set +e
"$CRISP" run -e "crispd=$socket" --suite "$repo/suites/seed"
rc=$?
set -e
check "the seed suite on crispd" 0 "$rc"

crispd_id=$("$CRISP" call PullImage -e "$socket" -d '{"image": {"image": "redis:alpine"}}' | jq -r .image_ref)
containerd_id=$("$CRISP" call PullImage -e "$CRISP_CONTAINERD_ENDPOINT" -d '{"image": {"image": "redis:alpine"}}' | jq -r .image_ref)
check "crispd and containerd agree on redis:alpine's image ID" "$containerd_id" "$crispd_id"
check "ImageStatus by ID finds the tag" docker.io/library/redis:alpine \
  "$("$CRISP" call ImageStatus -e "$socket" -d "{\"image\": {\"image\": \"$crispd_id\"}}" | jq -r '.image.repo_tags[0]')"
check "USER uid:gid gives uid 1003" 1003 \
  "$("$CRISP" call PullImage -e "$socket" -d '{"image": {"image": "gcr.io/k8s-staging-cri-tools/test-image-user-uid-group"}}' >/dev/null &&
     "$CRISP" call ImageStatus -e "$socket" -d '{"image": {"image": "gcr.io/k8s-staging-cri-tools/test-image-user-uid-group"}}' | jq -r .image.uid.value)"

layers_before=$(ls "$dir/root/images/layers" | wc -l)
target=$("$(dirname "$0")/hostile_images.sh" "$dir/hostile" "$CRISP_REGISTRY")
for kind in dotdot symlink; do
  set +e
  message=$("$CRISP" call PullImage -e "$socket" -d "{\"image\": {\"image\": \"$CRISP_REGISTRY/crisp-test/evil-$kind:1\"}}" 2>&1)
  rc=$?
  set -e
  echo "$message"
  check "pulling evil-$kind fails" 1 "$rc"
  case $kind in
    dotdot) check "the error names the ../ entry" yes "$(grep -q "climbs out with '..'" <<<"$message" && echo yes || echo no)" ;;
    symlink) check "the error names the symlink" yes "$(grep -q 'written through the symlink "esc"' <<<"$message" && echo yes || echo no)" ;;
  esac
  check "nothing written outside the store ($kind)" "" "$(ls -d /tmp/$target-* 2>/dev/null || true)"
done
check "no evil image recorded" 0 \
  "$("$CRISP" call ListImages -e "$socket" | jq '[.images[].repo_tags[] | select(contains("crisp-test"))] | length')"
check "no evil layer kept" "$layers_before" "$(ls "$dir/root/images/layers" | wc -l)"
check "no half-unpacked leftovers" "" "$(ls "$dir/root/images/tmp")"

set +e
"$CRISP" run -e "crispd=$socket" --suite "$repo/suites/pod/sandbox-lifecycle.yaml" \
  --suite "$repo/suites/container/exec-sync.yaml" -j 3
rc=$?
set -e
check "sandbox lifecycle and ExecSync on crispd, 3 at a time" 0 "$rc"

# Streaming without a tty or container stdin: exec and port forward through
# crispd's own streaming server, followed over WebSocket.
set +e
"$CRISP" run -e "crispd=$socket" --suite "$repo/suites/streaming" -j 2 \
  --focus '^streaming\.(exec|exec-exit-code-and-stderr|exec-stdin|exec-returns-url|exec-unknown-container|portforward|portforward-host-network|portforward-returns-url) '
rc=$?
set -e
check "exec and port-forward streams on crispd" 0 "$rc"

# An OOM kill: conmon leaves its marker in the container's directory, not
# in the directory crispd was started from.
set +e
"$CRISP" run -e "crispd=$socket" --suite "$repo/suites/container" --focus '^container\.oom-killed '
rc=$?
set -e
check "an OOM-killed container on crispd" 0 "$rc"
check "nothing written where crispd was started" "" "$(ls "$PWD/oom" 2>/dev/null || true)"
check "no runc exec of crispd left" "" "$(pgrep -f "runc .*$dir.* exec" || true)"
check "no sandbox left" 0 "$("$CRISP" call ListPodSandbox -e "$socket" | jq '.items | length')"
check "no sandbox state left" "" "$(ls "$dir/state/sandboxes")"
check "no netns of crispd left" "" "$(ip netns list | grep crispd- || true)"
check "no mount under the state dir" "" "$(grep -F "$dir/state" /proc/self/mountinfo || true)"
leftover=$(grep -l ":/crispd/" /proc/[0-9]*/cgroup 2>/dev/null || true)
for f in $leftover; do p=${f#/proc/}; p=${p%/cgroup}; echo "leftover pid $p: $(tr "\0" " " < /proc/$p/cmdline 2>/dev/null) $(grep -m1 crispd $f 2>/dev/null)"; done
check "no pause of crispd left" "" "$leftover"
check "no conmon of crispd left" "" "$(pgrep -f "conmon .*$dir" || true)"
check "no container state left" "" "$(ls "$dir/state/containers")"
finish
