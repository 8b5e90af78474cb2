#!/usr/bin/env bash
# A pull that cannot finish, two ways, on a private crispd:
# 1. the registry goes away in the middle of a layer (registry_proxy.py
#    sends half of each large blob, then drops the connection): PullImage
#    fails with a clear error within its deadline, no partial image is
#    listed, and the pull works once the registry is whole again;
# 2. the disk fills up (crispd's root on a 6 MiB tmpfs, the image needs
#    more): PullImage fails and says so, nothing half-written is listed,
#    and once there is room the same pull works.
source "$(dirname "$0")/lib.sh"
CRISPD=${2:?usage: $0 CRISP CRISPD}
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d /tmp/crispd-storage.XXXXXX)
port=$((20000 + RANDOM % 20000))
crispd_pid="" proxy_pid=""
cleanup() {
  [ -n "$crispd_pid" ] && kill -TERM "$crispd_pid" 2>/dev/null && wait "$crispd_pid" 2>/dev/null
  [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null
  "$CRISPD" reset --root "$dir/root" --state "$dir/state" --bridge crispd-sto --pod-cidr 10.89.0.0/16 >/dev/null 2>&1 || true
  umount "$dir/root" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
image=docker.io/library/redis:7
listed() { call ListImages '{}' | jq --arg i "$image" '[.images[] | select(.repo_tags | index($i))] | length'; }

# 1. The registry goes away mid-layer.
python3 "$here/registry_proxy.py" "$CRISP_REGISTRY" "$port" &
proxy_pid=$!
for _ in $(seq 1 50); do (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
crispd_args "$dir" crispd-sto 10.89.0.0/16 --registry-mirror "docker.io=http://127.0.0.1:$port"
start_crispd
started=$SECONDS
rc=0
"$CRISP" --timeout 1m call PullImage -e "$socket" -d "{\"image\": {\"image\": \"$image\"}}" > "$dir/pull.out" 2>&1 || rc=$?
check "a pull cut off mid-layer fails" yes "$([ "$rc" -ne 0 ] && echo yes || echo no)"
check "within its deadline (1 min)" yes "$([ $((SECONDS - started)) -lt 60 ] && echo yes || echo no)"
check "and says what happened" yes \
  "$(grep -qiE 'blob|layer|transfer|connection|digest|size|partial' "$dir/pull.out" && echo yes || echo "no: $(cat "$dir/pull.out")")"
check "no partial image is listed" 0 "$(listed)"
kill "$proxy_pid"; wait "$proxy_pid" 2>/dev/null || true; proxy_pid=""
kill -TERM "$crispd_pid"; wait "$crispd_pid" 2>/dev/null || true; crispd_pid=""
crispd_args "$dir" crispd-sto 10.89.0.0/16
start_crispd
check "with the registry whole again, the pull works" yes \
  "$(call PullImage "{\"image\": {\"image\": \"$image\"}}" | jq -e '.image_ref | length > 0' >/dev/null && echo yes || echo no)"
check "and the image is listed" 1 "$(listed)"
kill -TERM "$crispd_pid"; wait "$crispd_pid" 2>/dev/null || true; crispd_pid=""
"$CRISPD" reset --root "$dir/root" --state "$dir/state" --bridge crispd-sto --pod-cidr 10.89.0.0/16 >/dev/null 2>&1 || true
rm -rf "$dir/root" "$dir/state"

# 2. The disk fills up.
mkdir -p "$dir/root"
mount -t tmpfs -o size=6m tmpfs "$dir/root"
start_crispd
rc=0
"$CRISP" --timeout 1m call PullImage -e "$socket" -d "{\"image\": {\"image\": \"$image\"}}" > "$dir/full.out" 2>&1 || rc=$?
check "a pull onto a full disk fails" yes "$([ "$rc" -ne 0 ] && echo yes || echo no)"
check "and says the disk is full" yes \
  "$(grep -qiE 'space|ENOSPC|full' "$dir/full.out" && echo yes || echo "no: $(cat "$dir/full.out")")"
check "no partial image is listed" 0 "$(listed)"
check "crispd still answers" yes "$(call Version '{}' | jq -e '.runtime_name == "crispd"' >/dev/null && echo yes || echo no)"
mount -o remount,size=96m "$dir/root"
check "once there is room, the same pull works" yes \
  "$(call PullImage "{\"image\": {\"image\": \"$image\"}}" | jq -e '.image_ref | length > 0' >/dev/null && echo yes || echo no)"
check "and the image is listed" 1 "$(listed)"
finish
