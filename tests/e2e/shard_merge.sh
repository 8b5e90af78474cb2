#!/usr/bin/env bash
# crisp run --shard K/N and crisp merge, on the bundled runtime:
# - shards 1/3, 2/3 and 3/3 of every suite are disjoint and together are
#   every scenario (crisp list);
# - the three shards run, and crisp merge folds them into one column with
#   the same verdict for every scenario as one unsharded run;
# - a scenario given two verdicts on one node is shown as a conflict and
#   fails the merge.
source "$(dirname "$0")/lib.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

all=$("$CRISP" list --suite "$repo/suites" -o json | jq -r '.[].id' | sort)
: > "$out/union"
for k in 1 2 3; do
  "$CRISP" list --suite "$repo/suites" --shard "$k/3" -o json | jq -r '.[].id' | sort > "$out/list-$k"
  cat "$out/list-$k" >> "$out/union"
  check "shard $k/3 is not empty" yes "$([ -s "$out/list-$k" ] && echo yes || echo no)"
done
check "the three shards together are every scenario ($(echo "$all" | wc -l))" "$all" "$(sort "$out/union")"
check "no scenario is in two shards" "" "$(sort "$out/union" | uniq -d)"

run() {  # run NAME [FLAG...]
  local name=$1
  shift
  local rc=0
  "$CRISP" "${mirrors[@]}" run -e reference --suite "$repo/suites" -j 2 --report-dir "$out/$name" "$@" \
    > "$out/$name.log" 2>&1 || rc=$?
  check "crisp run $* exits 0" 0 "$rc"
  [ "$rc" -eq 0 ] || tail -20 "$out/$name.log" >&2
}
run whole
for k in 1 2 3; do run "shard-$k" --shard "$k/3"; done
for k in 1 2 3; do
  check "shard $k/3 ran what crisp list gave it" "$(cat "$out/list-$k")" \
    "$(jq -r '.scenarios[].id' "$out/shard-$k/results.json" | sort)"
  check "results.json records shard $k/3" "$k/3" "$(jq -r .shard "$out/shard-$k/results.json")"
done

rc=0
"$CRISP" merge "$out"/shard-{1,2,3}/results.json --report-dir "$out/merged" > "$out/merge.log" 2>&1 || rc=$?
check "crisp merge of the three shards exits 0" 0 "$rc"
[ "$rc" -eq 0 ] || cat "$out/merge.log" >&2
check "one column: the three shards are one node's" 1 "$(jq '.runs | length' "$out/merged/results.json")"
check "the column is named node/runtime" "$(jq -r '.node.name' "$out/whole/results.json")/reference" \
  "$(jq -r '.runs[0].endpoint.name' "$out/merged/results.json")"
verdicts() { jq -r "$1"' | "\(.id) \(.verdict)"' "$2" | sort; }
check "the merged shards give every scenario the verdict of the unsharded run" \
  "$(verdicts '.scenarios[]' "$out/whole/results.json")" "$(verdicts '.runs[0].scenarios[]' "$out/merged/results.json")"
check "no conflicts, no notes" "0 0" "$(jq -r '"\(.fleet.conflicts | length) \(.fleet.notes | length)"' "$out/merged/results.json")"
check "summary.md says fleet" yes "$(grep -q '^## crisp fleet: 1 node run(s) in 1 group(s)' "$out/merged/summary.md" && echo yes || echo no)"

# A conflict: shard 1 again, with one passing scenario's verdict changed.
id=$(jq -r '[.scenarios[] | select(.verdict == "pass")][0].id' "$out/shard-1/results.json")
jq --arg id "$id" '.run_id = "edited" | (.scenarios[] | select(.id == $id) | .verdict) = "fail"' \
  "$out/shard-1/results.json" > "$out/edited.json"
rc=0
"$CRISP" merge "$out"/shard-{1,2,3}/results.json "$out/edited.json" --report-dir "$out/conflict" \
  > "$out/conflict.log" 2>&1 || rc=$?
check "a conflicting verdict fails the merge" 1 "$rc"
check "the conflict is named with both files" yes \
  "$(jq -r '.fleet.conflicts[0]' "$out/conflict/results.json" | grep -q "$id is pass in $out/shard-1/results.json but fail in $out/edited.json" && echo yes || echo no)"
check "the scenario shows as an error" error \
  "$(jq -r --arg id "$id" '.runs[0].scenarios[] | select(.id == $id) | .verdict' "$out/conflict/results.json")"
finish
