#!/usr/bin/env bash
# crisp info against the real containerd from ci/env names it, its version
# and CRI API v1, in the table and in JSON.
source "$(dirname "$0")/lib.sh"

json=$("$CRISP" info -e "containerd=$CRISP_CONTAINERD_ENDPOINT" -o json)
check "runtime name" containerd "$(jq -r .version.runtime_name <<<"$json")"
check "CRI API version" v1 "$(jq -r .version.runtime_api_version <<<"$json")"
check "runtime version is the Debian package's upstream version" \
  "$(dpkg-query -W -f='${Version}' containerd | sed 's/-[^-]*$//')" \
  "$(jq -r .version.runtime_version <<<"$json")"
check "RuntimeReady" true \
  "$(jq -r '.status.status.conditions[] | select(.type=="RuntimeReady") | .status' <<<"$json")"
check "NetworkReady (our CNI network)" true \
  "$(jq -r '.status.status.conditions[] | select(.type=="NetworkReady") | .status' <<<"$json")"
check "image filesystem under the env's root" yes \
  "$(jq -r '.image_fs_info.image_filesystems[0].fs_id.mountpoint' <<<"$json" |
     grep -q "^$CRISP_ENV_DIR/containerd/root/" && echo yes || echo no)"

table=$("$CRISP" info -e "$CRISP_CONTAINERD_ENDPOINT")
echo "$table"
check "table names containerd" yes "$(grep -Eq '^Runtime +containerd ' <<<"$table" && echo yes || echo no)"
check "table names API v1" yes "$(grep -Eq '^CRI API +v1$' <<<"$table" && echo yes || echo no)"

# --streaming: the kubelet's streaming server (containerd 1.6's) accepts
# SPDY and WebSocket up to v4, not v5; the probe's pod is gone after.
probe=$("$CRISP" info -e "containerd=$CRISP_CONTAINERD_ENDPOINT" --streaming -o json)
accepted() { jq -r --arg rpc "$1" --arg t "$2" --arg p "$3" \
  '.streaming.probes[] | select(.rpc==$rpc and .transport==$t and .protocol==$p) | .accepted' <<<"$probe"; }
check "probe pod set up and removed" "" "$(jq -r '.streaming.error // ""' <<<"$probe")"
check "exec over SPDY v4" true "$(accepted Exec spdy v4.channel.k8s.io)"
check "exec over WebSocket v4" true "$(accepted Exec websocket v4.channel.k8s.io)"
check "exec over WebSocket v5 (1.29's)" false "$(accepted Exec websocket v5.channel.k8s.io)"
check "port forward over SPDY" true "$(accepted PortForward spdy portforward.k8s.io)"
check "port forward over WebSocket" true "$(accepted PortForward websocket v4.channel.k8s.io)"
check "no probe pod left" 0 "$("$CRISP" call -e "containerd=$CRISP_CONTAINERD_ENDPOINT" ListPodSandbox -d \
  '{"filter": {"label_selector": {"crisp.io/probe": "streaming"}}}' | jq '.items | length')"
table=$("$CRISP" info -e "containerd=$CRISP_CONTAINERD_ENDPOINT" --streaming 2>/dev/null)
check "table row for exec over SPDY" yes \
  "$(grep -Eq '^Streaming Exec over SPDY/3.1 +v4.channel.k8s.io' <<<"$table" && echo yes || echo no)"
finish
