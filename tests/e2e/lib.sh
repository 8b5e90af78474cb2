# Shared by the e2e test scripts: the environment from `ci/env up`, and checks.
set -euo pipefail
# A command that fails under set -e says so, instead of ending the test silently.
trap 'echo "e2e: $(basename "$0"):$LINENO: command failed: $BASH_COMMAND" >&2' ERR

CRISP=${1:?usage: $0 PATH_TO_CRISP}
env_file=${CRISP_ENV_DIR:-/tmp/crisp-env}/env
if [ ! -f "$env_file" ]; then
  echo "e2e: $env_file is missing: run 'ci/env up' first (ci/test does)" >&2
  exit 1
fi
# shellcheck disable=SC1090
source "$env_file"

# crisp's --registry-mirror flags: every registry the suites' images name
# is the local one (crisp passes them on to a private crispd it starts;
# crispd takes the same flags).
mirrors=()
for registry in docker.io registry.k8s.io gcr.io k8s.gcr.io quay.io; do
  mirrors+=(--registry-mirror "$registry=http://$CRISP_REGISTRY")
done

failures=0
# check DESCRIPTION EXPECTED ACTUAL
# With CRISP_CHECK_LOG set, each check is also appended to that file as a
# JSON line {test, check, ok, got} (ci/reliability-report reads them).
check() {
  local ok=true
  if [ "$2" = "$3" ]; then
    echo "ok: $1"
  else
    ok=false
    echo "FAIL: $1: expected '$2', got '$3'" >&2
    failures=$((failures + 1))
  fi
  if [ -n "${CRISP_CHECK_LOG:-}" ]; then
    jq -nc --arg test "$(basename "$0" .sh)" --arg check "$1" --argjson ok "$ok" --arg got "${3:0:300}" \
      '{test: $test, check: $check, ok: $ok, got: $got}' >> "$CRISP_CHECK_LOG"
  fi
}
finish() {
  [ "$failures" -eq 0 ] || { echo "$failures check(s) failed" >&2; exit 1; }
}

# crispd_args DIR BRIDGE CIDR [FLAG...]: for a crispd of a test's own, its
# root, state and socket in DIR, sets $socket and ${args[@]} (start_crispd's
# flags): its own bridge and pod CIDR, then FLAG..., or the mirrors above
# when no FLAG is given.
crispd_args() {
  local home=$1 bridge=$2 cidr=$3
  shift 3
  socket="$home/crispd.sock"
  args=(--listen "unix://$socket" --root "$home/root" --state "$home/state" --bridge "$bridge" --pod-cidr "$cidr")
  if [ $# -gt 0 ]; then args+=("$@"); else args+=("${mirrors[@]}"); fi
}

# For tests that run their own crispd: with $CRISPD, ${args[@]} (its flags),
# $socket and $dir set, start_crispd starts it (logging to $dir/crispd.log),
# sets crispd_pid and waits until it answers; call RPC JSON calls it.
start_crispd() {
  "$CRISPD" "${args[@]}" >> "$dir/crispd.log" 2>&1 &
  crispd_pid=$!
  for _ in $(seq 1 100); do "$CRISP" info -e "$socket" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "crispd did not come up" >&2
  cat "$dir/crispd.log" >&2
  exit 1
}
call() { "$CRISP" --timeout 2m call "$1" -e "$socket" -d "$2"; }

# remove_test_crispd BRIDGE: for a trap on EXIT: what start_crispd's crispd
# holds is removed, then crispd is stopped, its bridge deleted, mounts
# under $dir detached and $dir removed.
remove_test_crispd() {
  if [ -n "${crispd_pid:-}" ]; then
    "$CRISP" clean -e "$socket" --all >/dev/null 2>&1 || true
    kill "$crispd_pid" 2>/dev/null || true
    wait "$crispd_pid" 2>/dev/null || true
  fi
  ip link del "$1" 2>/dev/null || true
  { grep -F "$dir" /proc/self/mountinfo || true; } | awk '{print $5}' | sort -r | xargs -r -n1 umount -l
  rm -rf "$dir"
}

# Leak accounting: host_snapshot PATTERN [CIDR] lists, one "kind item" per
# line, what a run can leave on the host: network namespaces, links (veths,
# bridges), mounts whose line names PATTERN (a runtime's root or state),
# processes whose command line names PATTERN, NAT rules naming CIDR (a
# pod network's portmap), pod cgroups crispd makes, System V shared memory,
# and crisp's temporary directories. leaks_between BEFORE AFTER prints the
# lines of AFTER that BEFORE lacks: everything the run left, named.
host_snapshot() {
  local pattern=$1 cidr=${2:-}
  {
    ip netns list 2>/dev/null | awk '{print "netns " $1}'
    ip -o link show 2>/dev/null | awk -F': ' '{sub(/@.*/, "", $2); print "link " $2}'
    grep -F -- "$pattern" /proc/self/mountinfo 2>/dev/null | awk '{print "mount " $5}'
    pgrep -a -f -- "$pattern" 2>/dev/null | grep -v -e "^$$ " -e ' pgrep ' -e 'host_snapshot' |
      awk '{$1=""; print "process" $0}' || true
    if [ -n "$cidr" ]; then
      iptables-save -t nat 2>/dev/null | grep -F -- "${cidr%.*/*}" | sed 's/^/nat /' || true
    fi
    find /sys/fs/cgroup -maxdepth 3 -path '*/crispd/*' -type d 2>/dev/null | sed 's/^/cgroup /'
    ipcs -m 2>/dev/null | awk 'NR > 3 && $2 ~ /^[0-9]+$/ {print "shm " $2}'
    ls -d /tmp/crisp-reference-* /tmp/crispd-console-* 2>/dev/null | sed 's/^/tempdir /' || true
  } | sort -u
}
leaks_between() { comm -13 <(echo "$1") <(echo "$2"); }
