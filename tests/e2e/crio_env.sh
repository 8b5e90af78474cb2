#!/usr/bin/env bash
# CRI-O in the environment: ci/env started it from ../shared/peers/cri-o,
# it answers as CRI-O 1.26 over its own socket, reports itself ready, and
# `ci/env status` shows it. Skipped (exit 77, with the reason) when the
# environment has no CRI-O because the build is not there.
source "$(dirname "$0")/lib.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
if [ -z "${CRISP_CRIO_ENDPOINT:-}" ]; then
  echo "SKIP: CRI-O is not in this environment: $("$repo/ci/env" status | grep '^crio:')" >&2
  exit 77
fi
info=$("$CRISP" info -e "crio=$CRISP_CRIO_ENDPOINT" -o json)
check "runtime name" cri-o "$(jq -r .version.runtime_name <<<"$info")"
check "runtime version is 1.26" yes "$(jq -r .version.runtime_version <<<"$info" | grep -q '^1\.26\.' && echo yes || echo no)"
check "RuntimeReady" true "$(jq '[.status.status.conditions[] | select(.type == "RuntimeReady") | .status] == [true]' <<<"$info")"
check "NetworkReady" true "$(jq '[.status.status.conditions[] | select(.type == "NetworkReady") | .status] == [true]' <<<"$info")"
check "ci/env status shows it" yes "$("$repo/ci/env" status | grep -q '^crio: running' && echo yes || echo no)"
finish
