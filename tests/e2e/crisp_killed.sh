#!/usr/bin/env bash
# crisp killed with SIGKILL in the middle of a run on its private crispd
# (-e reference): crispd sees its owner gone, removes every pod, container,
# netns, mount and the bridge of the run, its root and state directories,
# and exits. Nothing of the run is left on the host.
source "$(dirname "$0")/lib.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
before_netns=$(ip netns list | grep crispd- || true)

"$CRISP" "${mirrors[@]}" run --suite "$repo/suites" --focus 'container\.|streaming\.' -j 2 \
  --report-dir "$out/report" > "$out/run.log" 2>&1 &
crisp_pid=$!
# Wait until its crispd runs pods, then kill crisp where it stands.
dir=""
for _ in $(seq 1 200); do
  dir=$(pgrep -a -f "crispd --listen unix:///tmp/crisp-reference-.* --owner-pid $crisp_pid" | grep -o '/tmp/crisp-reference-[A-Za-z0-9]*' | head -1 || true)
  if [ -n "$dir" ] && [ "$(ip netns list | grep -c crispd- || true)" -gt "$(echo -n "$before_netns" | grep -c crispd- || true)" ]; then break; fi
  sleep 0.1
done
check "crisp started a private crispd that runs pods" yes "$([ -n "$dir" ] && echo yes || echo no)"
kill -KILL "$crisp_pid"
wait "$crisp_pid" 2>/dev/null || true

for _ in $(seq 1 300); do
  pgrep -f "crispd --listen unix://$dir/" > /dev/null || break
  sleep 0.1
done
check "crispd ended after its owner" "" "$(pgrep -a -f "crispd --listen unix://$dir/" || true)"
check "it said why" yes "$(grep -q 'its owner (PID [0-9]*) has ended' "$dir/crispd.log" 2>/dev/null && echo yes || echo no)"
check "it removed the run's pods itself" yes \
  "$(grep -q 'released the network of sandbox' "$dir/crispd.log" 2>/dev/null && echo yes || echo no)"
check "no conmon or container of the run left" "" "$(pgrep -a -f -- "$dir/" || true)"
check "no netns of the run left" "$before_netns" "$(ip netns list | grep crispd- || true)"
check "no mount of the run left" "" "$(grep -F "$dir" /proc/self/mountinfo || true)"
check "no root or state directory left" "" "$(ls -d "$dir/root" "$dir/state" 2>/dev/null || true)"
bridge=crisp$(echo "${dir: -6}" | tr '[:upper:]' '[:lower:]')
check "no bridge of the run left" "" "$(ip -o link show "$bridge" 2>/dev/null || true)"
rm -rf "$dir"
finish
