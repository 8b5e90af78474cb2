# shellcheck shell=bash disable=SC2034
# Sourced by the bench/run-* scripts: start_private_crispd BINARY BRIDGE CIDR
# starts a crispd of its own (root, state and socket in a temporary
# directory, the local registry as every mirror, its own bridge and pod
# CIDR, so it never meets the test suites' crispd) and waits for its
# socket. It sets crispd_pid and crispd_endpoint, and removes it all (the
# bridge too) when the script exits. Needs the ci/env variables sourced.
start_private_crispd() {
  local binary=$1 bridge=$2 cidr=$3
  crispd_dir=$(mktemp -d /tmp/crispd-bench.XXXXXX)
  local args=(--listen "unix://$crispd_dir/crispd.sock" --root "$crispd_dir/root" --state "$crispd_dir/state"
              --bridge "$bridge" --pod-cidr "$cidr")
  # CRISPD_ARGS: more flags, e.g. "--log-level debug" for the time of each
  # stage in $crispd_dir/crispd.log (kept when CRISPD_KEEP_LOG names a file).
  read -r -a extra <<< "${CRISPD_ARGS:-}"
  args+=("${extra[@]}")
  for registry in docker.io registry.k8s.io gcr.io k8s.gcr.io quay.io; do
    args+=(--registry-mirror "$registry=http://$CRISP_REGISTRY")
  done
  "$binary" "${args[@]}" > "$crispd_dir/crispd.log" 2>&1 &
  crispd_pid=$!
  crispd_bridge=$bridge
  trap stop_private_crispd EXIT
  for _ in $(seq 1 100); do [ -S "$crispd_dir/crispd.sock" ] && break; sleep 0.1; done
  if [ ! -S "$crispd_dir/crispd.sock" ]; then
    echo "crispd did not start; its log:" >&2
    cat "$crispd_dir/crispd.log" >&2
    exit 1
  fi
  crispd_endpoint="unix://$crispd_dir/crispd.sock"
}

stop_private_crispd() {
  kill "$crispd_pid" 2>/dev/null || true
  wait "$crispd_pid" 2>/dev/null || true
  ip link del "$crispd_bridge" 2>/dev/null || true
  if [ -n "${CRISPD_KEEP_LOG:-}" ]; then cp "$crispd_dir/crispd.log" "$CRISPD_KEEP_LOG"; fi
  rm -rf "$crispd_dir" /tmp/crisp-bench-logs
}
