#!/usr/bin/env bash
# Every suite on the real containerd, three scenarios at a time: all pass,
# and no pod of the run remains.
source "$(dirname "$0")/lib.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
run_id="suites-$$-$RANDOM"
set +e
"$CRISP" run -e "containerd=$CRISP_CONTAINERD_ENDPOINT" --suite "$repo/suites" -j 3 --run-id "$run_id"
rc=$?
set -e
check "every suite on containerd" 0 "$rc"
check "no pod of the run remains" 0 "$("$CRISP" call ListPodSandbox -e "$CRISP_CONTAINERD_ENDPOINT" \
  -d "{\"filter\": {\"label_selector\": {\"crisp.run-id\": \"$run_id\"}}}" | jq '.items | length')"
finish
