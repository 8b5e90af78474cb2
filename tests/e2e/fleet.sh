#!/usr/bin/env bash
# A fleet dry run on this machine (docs/fleet.md). Three "nodes", each a
# real runtime here: node-a is ci/env's containerd, node-b a private crispd
# (crisp launch -e reference), node-c a crispd of this test's own whose
# pods are networked by the CNI plugins from a config of its own, not by
# crispd's in-process default network. On each, crisp launch runs crisp's
# image (ci/env crisp-image) as a pod through CRI, with the runtime's socket
# mounted in, as a DaemonSet pod would get it; crisp in the pod runs the
# seed and networking suites against the runtime it sits on, and the host
# reads results.json back. Then:
# - the seed suite passes in the pod on every node;
# - scenarios with host steps the pod cannot do (its network is its own)
#   are n.a. and say which namespace is missing; none fails;
# - crisp merge folds the three into a fleet report with two groups
#   (containerd; crispd twice), checked in headless Chromium;
# - deploy/job.yaml's pod, rendered by deploy/run-on-cluster and turned into
#   the CRI requests a kubelet would send (tests/deploy/job-to-cri.mjs),
#   runs on containerd: its shell line, env and mounts work in the image,
#   and the seed suite passes in it;
# - no launch pod is left on any runtime.
source "$(dirname "$0")/lib.sh"
CRISPD=${2:?usage: $0 CRISP CRISPD}
repo=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(mktemp -d /tmp/crisp-fleet.XXXXXX)
out="$dir/out"
mkdir -p "$out"
crispd_pid=""
job_pod=""
cleanup() {
  if [ -n "$job_pod" ]; then  # the Job's pod on ci/env's containerd, if a check stopped the test
    "$CRISP" call StopPodSandbox -e "$CRISP_CONTAINERD_ENDPOINT" -d "{\"pod_sandbox_id\": \"$job_pod\"}" >/dev/null 2>&1 || true
    "$CRISP" call RemovePodSandbox -e "$CRISP_CONTAINERD_ENDPOINT" -d "{\"pod_sandbox_id\": \"$job_pod\"}" >/dev/null 2>&1 || true
  fi
  remove_test_crispd crisp-fleet
}
trap cleanup EXIT

"$repo/ci/env" crisp-image "$CRISP" > "$out/image.log" 2>&1 || { cat "$out/image.log" >&2; exit 1; }
version=$("$CRISP" version | awk 'NR == 1 {print $2}')
check "ci/env pushed crispproject/crisp:$version" yes \
  "$(curl -sf "http://$CRISP_REGISTRY/v2/crispproject/crisp/tags/list" | jq -e --arg v "$version" '.tags | index($v)' \
     > /dev/null && echo yes || echo no)"

# node-c's runtime: crispd with a CNI network config of its own.
crispd_args "$dir" crisp-fleet 10.93.0.0/16
mkdir -p "$dir/net.d"
jq -n --arg state "$dir/state" '{cniVersion: "0.4.0", name: "fleet", plugins: [
  {type: "bridge", bridge: "crisp-fleet", isGateway: true, ipMasq: false, hairpinMode: true,
   ipam: {type: "host-local", ranges: [[{subnet: "10.93.0.0/16"}]], routes: [{dst: "0.0.0.0/0"}],
          dataDir: ($state + "/fleet-ipam")}},
  {type: "portmap", capabilities: {portMappings: true}}]}' > "$dir/net.d/20-fleet.conflist"
args+=(--cni-conf-dir "$dir/net.d")
start_crispd

# launch NODE NAME=ENDPOINT [FLAG...]: crisp's image as a pod on that runtime.
launch() {
  local node=$1 endpoint=$2 name=${2%%=*}
  shift 2
  local rc=0
  "$CRISP" "${mirrors[@]}" --timeout 30s launch -e "$endpoint" --node "$node" --results "$out/$node" "$@" -- \
    run -e "$name=unix:///run/crisp/cri.sock" --suite suites/seed --suite suites/networking -j 2 \
    --report-dir /results > "$out/$node.log" 2>&1 || rc=$?
  check "crisp launch on $node exits 0" 0 "$rc"
  [ "$rc" -eq 0 ] || tail -30 "$out/$node.log" >&2
}
launch node-a "containerd=$CRISP_CONTAINERD_ENDPOINT"
launch node-b reference
launch node-c "crispd-cni=unix://$socket"

for node in node-a node-b node-c; do
  results="$out/$node/results.json"
  check "$node: the host reads results.json the pod wrote" yes "$([ -s "$results" ] && echo yes || echo no)"
  [ -s "$results" ] || continue
  check "$node: results.json names the node" "$node" "$(jq -r .node.name "$results")"
  check "$node: crisp in the pod does not see the runtime's PID namespace" false \
    "$(jq -r .capabilities.node_namespaces.pid "$results")"
  check "$node: every seed scenario passes in the pod" "pass pass pass pass" \
    "$(jq -r '[.scenarios[] | select(.suite == "seed") | .verdict] | join(" ")' "$results")"
  check "$node: nothing fails or errors" "0 0" "$(jq -r '"\(.summary.fail) \(.summary.error)"' "$results")"
  check "$node: scenarios with host steps are n.a. and name the namespace" yes \
    "$(jq -e '[.scenarios[] | select(.verdict == "na")] | length > 0 and
              all(.reason | test("requires node-(network|mount|pid|ipc)-namespace"))' "$results" >/dev/null &&
       echo yes || echo no)"
  check "$node: networking scenarios without host steps ran" yes \
    "$(jq -e '[.scenarios[] | select(.suite == "networking" and .verdict == "pass")] | length > 0' "$results" \
       > /dev/null && echo yes || echo no)"
done
check "node-c's pods went through the CNI plugins' bridge" yes \
  "$(grep -q '"bridge": *"crisp-fleet"' "$dir/net.d/20-fleet.conflist" && ip link show crisp-fleet >/dev/null 2>&1 &&
     echo yes || echo no)"

rc=0
"$CRISP" merge "$out"/node-{a,b,c}/results.json --report-dir "$out/fleet" > "$out/merge.log" 2>&1 || rc=$?
check "crisp merge of the three nodes exits 0" 0 "$rc"
[ "$rc" -eq 0 ] || cat "$out/merge.log" >&2
check "three columns" "node-a/containerd node-b/reference node-c/crispd-cni" \
  "$(jq -r '[.runs[].endpoint.name] | join(" ")' "$out/fleet/results.json")"
check "two groups: containerd, and crispd on both crispd nodes" "1:node-a/containerd 2:node-b/reference,node-c/crispd-cni" \
  "$(jq -r '[.fleet.groups[] | "\(.group):\(.columns | join(","))"] | join(" ")' "$out/fleet/results.json")"
check "summary.md starts with the fleet" "## crisp fleet: 3 node run(s) in 2 group(s)" "$(head -1 "$out/fleet/summary.md")"
node "$repo/tests/browser/fleet-report.mjs" "$out/fleet/matrix.html" "$out/fleet.png" || failures=$((failures + 1))

# node-d: the Job's pod, as a kubelet would make it from deploy/job.yaml.
ep=$CRISP_CONTAINERD_ENDPOINT
image="docker.io/crispproject/crisp:$version"
"$repo/deploy/run-on-cluster" --render node-d --image "$image" --socket "${ep#unix://}" --runtime containerd -- \
  --suite suites/seed > "$dir/job.yaml"
node "$repo/tests/deploy/job-to-cri.mjs" "$dir/job.yaml" node-d "$dir/empty" > "$dir/job-cri.json"
mkdir -p "$dir/empty/tmp" "$dir/empty/results"
logs=$(jq -r .sandbox.log_directory "$dir/job-cri.json")
mkdir -p "$logs/crisp"  # as the kubelet does
"$CRISP" call PullImage -e "$ep" -d "$(jq -nc --arg i "$image" '{image: {image: $i}}')" > /dev/null
job_pod=$("$CRISP" call RunPodSandbox -e "$ep" -d "$(jq -c '{config: .sandbox}' "$dir/job-cri.json")" | jq -r .pod_sandbox_id)
job_ctr=$("$CRISP" call CreateContainer -e "$ep" -d "$(jq -c --arg p "$job_pod" \
  '{pod_sandbox_id: $p, config: .container, sandbox_config: .sandbox}' "$dir/job-cri.json")" | jq -r .container_id)
"$CRISP" call StartContainer -e "$ep" -d "$(jq -nc --arg c "$job_ctr" '{container_id: $c}')" > /dev/null
for _ in $(seq 1 240); do [ -s "$dir/empty/results/exit-code" ] && break; sleep 0.5; done
check "the Job's crisp wrote its exit code to /results" 0 "$(cat "$dir/empty/results/exit-code" 2>/dev/null || echo none)"
check "the Job's results.json names node-d" node-d "$(jq -r .node.name "$dir/empty/results/results.json" 2>/dev/null)"
check "every seed scenario passes in the Job's pod" "pass pass pass pass" \
  "$(jq -r '[.scenarios[].verdict] | join(" ")' "$dir/empty/results/results.json" 2>/dev/null)"
"$CRISP" call StopPodSandbox -e "$ep" -d "$(jq -nc --arg p "$job_pod" '{pod_sandbox_id: $p}')" > /dev/null
"$CRISP" call RemovePodSandbox -e "$ep" -d "$(jq -nc --arg p "$job_pod" '{pod_sandbox_id: $p}')" > /dev/null
job_pod=""
rm -rf "$logs"

for endpoint in "$CRISP_CONTAINERD_ENDPOINT" "unix://$socket"; do
  check "no launch pod left on $endpoint" 0 \
    "$("$CRISP" call ListPodSandbox -e "$endpoint" -d '{}' | jq '[.items[]? | select(.labels["crisp.io/launch"])] | length')"
done
[ -z "${CRISP_FLEET_KEEP:-}" ] || cp -r "$out" "$CRISP_FLEET_KEEP"
finish
