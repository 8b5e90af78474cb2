# Helpers shared by the ci/env components. Each component file registers
# its steps in UP_STEPS / DOWN_STEPS / STATUS_STEPS and its variables in
# ENV_VARS; `down` runs DOWN_STEPS in reverse order.
UP_STEPS=()
DOWN_STEPS=()
STATUS_STEPS=()
ENV_VARS=()

say() { printf 'ci/env: %s\n' "$*" >&2; }
die() { printf 'ci/env: error: %s\n' "$*" >&2; exit 1; }

# fail COMPONENT LOGFILE MESSAGE: names the component, shows its log tail.
fail() {
  local component=$1 log=$2; shift 2
  printf 'ci/env: error: %s: %s\n' "$component" "$*" >&2
  if [ -f "$log" ]; then
    printf -- '--- last lines of %s ---\n' "$log" >&2
    tail -n 25 "$log" >&2
  fi
  exit 1
}

# set_var NAME VALUE: a variable for the env file, also exported here.
set_var() {
  export "$1=$2"
  local known
  for known in "${ENV_VARS[@]}"; do [ "$known" = "$1" ] && return 0; done
  ENV_VARS+=("$1")
}

write_env_file() {
  local tmp="$CRISP_ENV_DIR/env.tmp" name
  {
    echo "# written by ci/env up; source it"
    echo "export CRISP_ENV_DIR=$(printf %q "$CRISP_ENV_DIR")"
    for name in "${ENV_VARS[@]}"; do
      echo "export $name=$(printf %q "${!name}")"
    done
  } > "$tmp"
  mv "$tmp" "$CRISP_ENV_DIR/env"
}

# pid_alive PIDFILE: true when the pid in PIDFILE is a live process.
pid_alive() {
  [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

# start_daemon NAME PIDFILE LOG COMMAND...: starts COMMAND in its own session
# unless PIDFILE names a live process.
start_daemon() {
  local name=$1 pidfile=$2 log=$3; shift 3
  if pid_alive "$pidfile"; then
    say "$name already running (pid $(cat "$pidfile"))"
    return 0
  fi
  say "starting $name"
  # fd 9 holds the ci/env lock; daemons must not keep it.
  setsid "$@" >>"$log" 2>&1 < /dev/null 9>&- &
  echo $! > "$pidfile"
}

# stop_daemon NAME PIDFILE: SIGTERM, then SIGKILL after 10 s.
stop_daemon() {
  local name=$1 pidfile=$2 pid i
  pid_alive "$pidfile" || { rm -f "$pidfile"; return 0; }
  pid=$(cat "$pidfile")
  say "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for (( i=0; i<100; i++ )); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "$name did not stop in 10 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

# wait_until SECONDS NAME PIDFILE LOG COMMAND...: polls COMMAND until it
# succeeds; fails with the log tail when the daemon dies or time runs out.
wait_until() {
  local seconds=$1 name=$2 pidfile=$3 log=$4; shift 4
  local deadline=$(( $(date +%s) + seconds ))
  until "$@" >/dev/null 2>&1; do
    pid_alive "$pidfile" || fail "$name" "$log" "exited during start-up"
    [ "$(date +%s)" -lt "$deadline" ] || fail "$name" "$log" "no answer within ${seconds}s"
    sleep 0.2
  done
}

# free_port START: the first TCP port from START that nothing listens on.
free_port() {
  local port=$1
  while ss -Hltn "sport = :$port" | grep -q .; do port=$((port + 1)); done
  echo "$port"
}

# unmount_under DIR: lazily unmounts every mount point below DIR, deepest first.
unmount_under() {
  local dir=$1 mount_point
  awk -v d="$dir" '$5 == d || index($5, d "/") == 1 {print $5}' /proc/self/mountinfo |
    sort -r | while read -r mount_point; do
      umount -l "$mount_point" 2>/dev/null || true
    done
}

# pin_bridge BRIDGE: makes the bridge a CNI network will use, with a MAC
# of its own. A bridge without one takes the lowest MAC of its ports, so it
# changes as pods come and go, and a runtime that CHECKs its pods' networks
# (CRI-O 1.26, with the bridge plugin 1.1) then fails RunPodSandbox with
# "Bridge interface ... Mac doesn't match" when another pod's veth joined
# in between. A MAC set by hand stays.
pin_bridge() {
  local bridge=$1 mac
  ip link show "$bridge" >/dev/null 2>&1 || ip link add "$bridge" type bridge
  # Locally administered, unicast, from the name: the same bridge gets the same MAC.
  mac=$(printf '%s' "$bridge" | md5sum | sed 's/^\(..\)\(..\)\(..\)\(..\)\(..\).*/02:\1:\2:\3:\4:\5/')
  ip link set "$bridge" address "$mac"
  ip link set "$bridge" up
}

# write_bridge_conflist FILE NETWORK BRIDGE CIDR IPAM_DIR: a CNI bridge
# network of our own (gateway, no masquerade, hairpin) with host-local IPAM
# in IPAM_DIR, and portmap for host ports.
write_bridge_conflist() {
  local file=$1 network=$2 bridge=$3 cidr=$4 ipam_dir=$5
  cat > "$file" <<JSON
{
  "cniVersion": "0.4.0",
  "name": "$network",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$bridge",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$ipam_dir",
        "ranges": [[{"subnet": "$cidr"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
JSON
}

# sweep_netns_in CIDR WHO: removes every network namespace in /var/run/netns
# that holds an IPv4 address of CIDR (a /16), saying so for WHO.
sweep_netns_in() {
  local prefix=${1%%.0.0/*} who=$2 ns
  [ -d /var/run/netns ] || return 0
  for ns in $(ls /var/run/netns); do
    if ip -n "$ns" -4 -o addr show 2>/dev/null | grep -q " inet $prefix\."; then
      say "$who: removing leftover netns $ns"
      ip netns del "$ns" 2>/dev/null || { umount -l "/var/run/netns/$ns" 2>/dev/null; rm -f "/var/run/netns/$ns"; }
    fi
  done
}

# remove_chain TABLE CHAIN: deletes every rule that jumps to CHAIN, then
# flushes and deletes it.
remove_chain() {
  local table=$1 chain=$2 rule
  iptables-save -t "$table" | grep -- "-j $chain\b" | sed 's/^-A /-D /' | while read -r rule; do
    eval "iptables -t $table $rule" 2>/dev/null || true
  done
  iptables -t "$table" -F "$chain" 2>/dev/null || true
  iptables -t "$table" -X "$chain" 2>/dev/null || true
}

# sweep_portmap_chains NETWORK: the CNI portmap plugin's per-pod chains of
# NETWORK (their rules carry its name in comments).
sweep_portmap_chains() {
  command -v iptables-save >/dev/null || return 0
  local network=$1 table chain
  for table in nat filter; do
    for chain in $(iptables-save -t "$table" 2>/dev/null | grep -- "$network" | grep -o -- '-j CNI-DN-[0-9a-f]*' | awk '{print $2}' | sort -u); do
      remove_chain "$table" "$chain"
    done
  done
}

# crisp_binary: the newest built crisp, if any.
crisp_binary() {
  ls -t "$repo"/build/*/src/harness/crisp 2>/dev/null | head -n 1
}
