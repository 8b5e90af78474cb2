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
finish
