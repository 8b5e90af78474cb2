#!/usr/bin/env bash
# Air-gapped images: `crispd import` loads an OCI archive into a store with
# no registry configured at all, and a container runs from it; importing
# while a daemon owns the store is refused with a clear error.
source "$(dirname "$0")/lib.sh"
CRISPD=${2:?usage: $0 CRISP CRISPD}
repo=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(mktemp -d /tmp/crispd-import.XXXXXX)
socket="$dir/crispd.sock"
cleanup() {
  "$CRISP" clean -e "$socket" --all >/dev/null 2>&1 || true
  [ -n "${crispd_pid:-}" ] && kill "$crispd_pid" 2>/dev/null && wait "$crispd_pid" 2>/dev/null
  ip link del crispd-im 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
skopeo copy --quiet "oci:$CRISP_IMAGES_DIR/busybox:docker.io_library_busybox_latest" "oci-archive:$dir/busybox.tar:latest"

out=$("$CRISPD" import --root "$dir/root" --name docker.io/library/busybox "$dir/busybox.tar")
echo "$out"
check "import names the image" docker.io/library/busybox:latest "$(awk '{print $2}' <<<"$out")"

# No --registry-mirror: this crispd cannot reach any registry.
"$CRISPD" --listen "unix://$socket" --root "$dir/root" --state "$dir/state" --bridge crispd-im \
  --pod-cidr 10.90.0.0/16 > "$dir/crispd.log" 2>&1 &
crispd_pid=$!
for _ in $(seq 1 100); do [ -S "$socket" ] && break; sleep 0.1; done
call() { "$CRISP" --timeout 2m call "$1" -e "$socket" -d "$2"; }

check "the imported image is listed" docker.io/library/busybox:latest \
  "$(call ImageStatus '{"image": {"image": "busybox"}}' | jq -r '.image.repo_tags[0]')"
sandbox=$(jq -c --arg logs "$dir/logs" '.log_directory = $logs | del(.port_mappings)' "$repo/fixtures/testdata/sandbox_config.json")
pod=$(call RunPodSandbox "{\"config\": $sandbox}" | jq -r .pod_sandbox_id)
ctr=$(call CreateContainer "{\"pod_sandbox_id\": \"$pod\", \"sandbox_config\": $sandbox, \"config\": {\"metadata\": {\"name\": \"offline\"}, \"image\": {\"image\": \"busybox\"}, \"command\": [\"sleep\", \"60\"], \"log_path\": \"offline.log\"}}" | jq -r .container_id)
call StartContainer "{\"container_id\": \"$ctr\"}" > /dev/null
check "a container runs from the imported image" '"offline\n"' \
  "$(call ExecSync "{\"container_id\": \"$ctr\", \"cmd\": [\"echo\", \"offline\"]}" | jq -c .stdout)"

set +e
message=$("$CRISPD" import --root "$dir/root" --name docker.io/library/busybox "$dir/busybox.tar" 2>&1)
rc=$?
set -e
check "import while crispd runs is refused" 1 "$rc"
check "and says why" yes "$(grep -q 'another crispd uses the image store' <<<"$message" && echo yes || echo no)"
finish
