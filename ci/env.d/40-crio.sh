# CRI-O 1.26.4: not packaged in Debian 12, so taken from the build in
# ../shared/peers/cri-o/ (or $CRISP_CRIO_DIR), unpacked and started with every
# path it can be told under $CRISP_ENV_DIR/crio: configuration, storage,
# registries (all to the local registry), signature policy, its own CNI
# network with its own bridge and subnet, and crio-runc-clamp as its OCI
# runtime (this host's root lacks CAP_SYS_RESOURCE). When the build is not
# there, the environment comes up without CRI-O and says so.

CRIO_DIR="$CRISP_ENV_DIR/crio"
CRIO_SOCK="$CRIO_DIR/crio.sock"
CRIO_PID="$CRIO_DIR/crio.pid"
CRIO_LOG="$CRIO_DIR/crio.log"
CRIO_PEER=${CRISP_CRIO_DIR:-$repo/../shared/peers/cri-o}
CRIO_INSTANCE=${CRISP_ENV_INSTANCE:-0}
CRIO_NET=crisp-crio-$CRIO_INSTANCE
CRIO_BRIDGE=crisp-crio$CRIO_INSTANCE
CRIO_POD_CIDR=${CRISP_CRIO_POD_CIDR:-10.$((120 + CRIO_INSTANCE)).0.0/16}

crio_available() {
  [ -f "$CRIO_PEER/crio.gz" ] && [ -f "$CRIO_PEER/pinns.gz" ] && [ -f "$CRIO_PEER/SHA256SUMS" ]
}

crio_unpack() {
  mkdir -p "$CRIO_DIR/bin"
  local name
  for name in crio pinns; do
    if [ ! -x "$CRIO_DIR/bin/$name" ]; then
      gunzip -c "$CRIO_PEER/$name.gz" > "$CRIO_DIR/bin/$name.tmp"
      chmod 755 "$CRIO_DIR/bin/$name.tmp"
      mv "$CRIO_DIR/bin/$name.tmp" "$CRIO_DIR/bin/$name"
    fi
  done
  (cd "$CRIO_DIR/bin" && sha256sum --quiet -c "$CRIO_PEER/SHA256SUMS") ||
    die "crio: the binaries in $CRIO_PEER do not match its SHA256SUMS"
  install -m 755 "$here/crio-runc-clamp" "$CRIO_DIR/bin/crio-runc-clamp"
}

crio_write_config() {
  mkdir -p "$CRIO_DIR"/{root,runroot,log,conf.d,registries.d,net.d,ipam,hooks.d,cdi,keys,exits,attach,ns,runc}
  local sandbox_image=${CRISP_SANDBOX_IMAGE:-registry.k8s.io/pause:3.9}
  cat > "$CRIO_DIR/crio.conf" <<TOML
# Written by ci/env.
[crio]
root = "$CRIO_DIR/root"
runroot = "$CRIO_DIR/runroot"
storage_driver = "overlay"
log_dir = "$CRIO_DIR/log"
version_file = "$CRIO_DIR/runroot/version"
version_file_persist = "$CRIO_DIR/root/version"
clean_shutdown_file = "$CRIO_DIR/root/clean.shutdown"

[crio.api]
listen = "$CRIO_SOCK"
stream_address = "127.0.0.1"
stream_port = "0"

[crio.runtime]
default_runtime = "crisp-runc"
cgroup_manager = "cgroupfs"
conmon_cgroup = "pod"
namespaces_dir = "$CRIO_DIR/ns"
pinns_path = "$CRIO_DIR/bin/pinns"
container_exits_dir = "$CRIO_DIR/exits"
container_attach_socket_dir = "$CRIO_DIR/attach"
hooks_dir = ["$CRIO_DIR/hooks.d"]
cdi_spec_dirs = ["$CRIO_DIR/cdi"]
decryption_keys_path = "$CRIO_DIR/keys"
irqbalance_config_file = "$CRIO_DIR/irqbalance"
log_level = "info"
# GetContainerEvents sends nothing without it; a kubelet with the
# EventedPLEG feature runs CRI-O so.
enable_pod_events = true

[crio.runtime.runtimes.crisp-runc]
runtime_path = "$CRIO_DIR/bin/crio-runc-clamp"
runtime_type = "oci"
runtime_root = "$CRIO_DIR/runc"
monitor_path = "/usr/bin/conmon"

[crio.image]
pause_image = "$sandbox_image"
signature_policy = "$CRIO_DIR/policy.json"

[crio.network]
network_dir = "$CRIO_DIR/net.d"
plugin_dirs = ["/usr/lib/cni"]
TOML

  # The same roots as crio.conf's (which win): one place for storage.
  cat > "$CRIO_DIR/storage.conf" <<TOML
[storage]
driver = "overlay"
graphroot = "$CRIO_DIR/root"
runroot = "$CRIO_DIR/runroot"
TOML

  # A [[registry]] per prefix, located at the local registry: a missing
  # image fails at once instead of waiting for DNS.
  {
    echo 'unqualified-search-registries = ["docker.io"]'
    local registry
    for registry in docker.io registry.k8s.io gcr.io quay.io k8s.gcr.io; do
      cat <<TOML
[[registry]]
prefix = "$registry"
location = "${CRISP_REGISTRY:-127.0.0.1:5000}"
insecure = true
TOML
    done
  } > "$CRIO_DIR/registries.conf"

  echo '{"default":[{"type":"insecureAcceptAnything"}]}' > "$CRIO_DIR/policy.json"

  write_bridge_conflist "$CRIO_DIR/net.d/10-$CRIO_NET.conflist" "$CRIO_NET" "$CRIO_BRIDGE" "$CRIO_POD_CIDR" "$CRIO_DIR/ipam"
  pin_bridge "$CRIO_BRIDGE"
}

crio_answers() {
  [ -S "$CRIO_SOCK" ] || return 1
  local crisp
  crisp=$(crisp_binary || true)
  if [ -n "$crisp" ]; then
    "$crisp" --timeout 2s call Version -e "unix://$CRIO_SOCK" -d '{}'
  fi
}

crio_up() {
  if ! crio_available; then
    say "crio: no CRI-O build in $CRIO_PEER; coming up without CRI-O (tests that need it are skipped)"
    return 0
  fi
  if ! pid_alive "$CRIO_PID"; then
    crio_unpack
    crio_write_config
  fi
  start_daemon crio "$CRIO_PID" "$CRIO_LOG" \
    env CONTAINERS_STORAGE_CONF="$CRIO_DIR/storage.conf" \
        CONTAINERS_REGISTRIES_CONF="$CRIO_DIR/registries.conf" \
    "$CRIO_DIR/bin/crio" --config "$CRIO_DIR/crio.conf" --config-dir "$CRIO_DIR/conf.d" \
      --registries-conf "$CRIO_DIR/registries.conf" --registries-conf-dir "$CRIO_DIR/registries.d"
  wait_until 60 crio "$CRIO_PID" "$CRIO_LOG" crio_answers
  set_var CRISP_CRIO_ENDPOINT "unix://$CRIO_SOCK"
  set_var CRISP_CRIO_POD_CIDR "$CRIO_POD_CIDR"
}

# Pods first, through CRI while CRI-O still runs (conmon outlives it, and
# CNI DEL needs it); then the daemon; then what CRI-O never removes.
crio_down() {
  [ -d "$CRIO_DIR" ] || return 0
  if pid_alive "$CRIO_PID"; then
    local crisp
    crisp=$(crisp_binary || true)
    if [ -n "$crisp" ]; then
      "$crisp" clean -e "unix://$CRIO_SOCK" --all >&2 || say "crio: crisp clean failed; sweeping by hand"
    fi
  fi
  stop_daemon crio "$CRIO_PID"
  crio_kill_leftovers
  crio_sweep_netns
  crio_sweep_iptables
  crio_sweep_cgroups
  ip link del "$CRIO_BRIDGE" 2>/dev/null || true
  # CNI keeps each pod's result here, named by our network, until its DEL.
  rm -f /var/lib/cni/results/"$CRIO_NET"-* 2>/dev/null || true
  unmount_under "$CRIO_DIR"
}

# conmon processes of our CRI-O (they name our exits directory) and the
# container processes under our runc root; then waits (up to 5 s) until they
# are gone, so that their cgroups can be removed.
crio_kill_leftovers() {
  local pids killed=""
  pids=$(pgrep -f -- "$CRIO_DIR/exits" || true)
  if [ -n "$pids" ]; then
    say "crio: killing leftover conmon processes: $(echo $pids)"
    kill -KILL $pids 2>/dev/null || true
    killed+=" $pids"
  fi
  local state id i pid
  for state in "$CRIO_DIR"/runc/*/state.json; do
    [ -f "$state" ] || continue
    id=$(basename "$(dirname "$state")")
    pids=$(grep -l -- "$id" /proc/[0-9]*/cgroup 2>/dev/null | cut -d/ -f3 || true)
    if [ -n "$pids" ]; then
      say "crio: killing leftover processes of container ${id:0:12}: $(echo $pids)"
      kill -KILL $pids 2>/dev/null || true
      killed+=" $pids"
    fi
  done
  local alive
  for (( i=0; i<50; i++ )); do
    alive=""
    for pid in $killed; do
      # A zombie holds no cgroup; only live processes count.
      if [ -e "/proc/$pid" ] && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]; then alive=1; fi
    done
    [ -z "$alive" ] && break
    sleep 0.1
  done
}

# Network namespaces: pinned by CRI-O under our ns dir, and any netns whose
# pod address lies in our subnet.
crio_sweep_netns() {
  local ns
  for ns in "$CRIO_DIR"/ns/*/*; do
    [ -e "$ns" ] || continue
    umount -l "$ns" 2>/dev/null || true
    rm -f "$ns"
  done
  sweep_netns_in "$CRIO_POD_CIDR" crio
}

# portmap's chains for our network (their rules carry its name), CRI-O's
# own host-port chains into our subnet, and the chains CRI-O shares between
# pods when no CRI-O is left.
crio_sweep_iptables() {
  command -v iptables-save >/dev/null || return 0
  sweep_portmap_chains "$CRIO_NET"
  # CRI-O's host ports: a KUBE-HP-* chain per pod, DNAT to its address in
  # our subnet, jumped to from KUBE-HOSTPORTS. A pod CRI-O never tore down
  # (it was killed) leaves them.
  local prefix=${CRIO_POD_CIDR%%.0.0/*}
  local chain
  for chain in $(iptables-save -t nat 2>/dev/null |
                 awk -v p="$prefix." '/^-A KUBE-HP-/ && (index($0, "--to-destination " p) || index($0, "-s " p)) {print $2}' |
                 sort -u); do
    remove_chain nat "$chain"
  done
  # CRI-O's own host-port chains are shared by every CRI-O on the host:
  # removed only when no other one runs, and only when no pod uses them.
  pgrep -x crio >/dev/null && return 0
  if ! iptables-save -t nat 2>/dev/null | grep -q -- '^-A KUBE-HOSTPORTS '; then
    for chain in PREROUTING OUTPUT; do
      while iptables -t nat -D "$chain" -m comment --comment "kube hostport portals" \
              -m addrtype --dst-type LOCAL -j KUBE-HOSTPORTS 2>/dev/null; do :; done
    done
    iptables -t nat -X KUBE-HOSTPORTS 2>/dev/null || true
  fi
  if iptables -t nat -S KUBE-MARK-MASQ >/dev/null 2>&1 &&
     ! iptables-save -t nat | grep -q -- '-j KUBE-MARK-MASQ'; then
    iptables -t nat -F KUBE-MARK-MASQ 2>/dev/null || true
    iptables -t nat -X KUBE-MARK-MASQ 2>/dev/null || true
  fi
  return 0
}

# CRI-O makes a `crio` cgroup in every cgroup v1 hierarchy, crio-<id> ones
# for pods without a cgroup parent, and a crio-conmon-<id> one per failed
# sandbox, and never removes them. Empty ones go, deepest first. When
# another CRI-O runs on this host (a second environment), only those of IDs
# our storage knows go, so that its live cgroups stay.
crio_sweep_cgroups() {
  local mount dir id others known=" "
  others=$(pgrep -x crio || true)
  for dir in "$CRIO_DIR"/root/overlay-containers/*/ "$CRIO_DIR"/runroot/overlay-containers/*/; do
    [ -d "$dir" ] && known+="$(basename "$dir") "
  done
  for mount in $(awk '$9 == "cgroup" || $9 == "cgroup2" {print $5}' /proc/self/mountinfo); do
    for dir in "$mount"/crio-* "$mount"/crio/crio-* "$mount/crio"; do
      [ -d "$dir" ] || continue
      id=${dir##*/}; id=${id#crio-}; id=${id#conmon-}
      if [ -n "$others" ] && [[ "$known" != *" $id "* ]]; then continue; fi
      find "$dir" -depth -type d -exec rmdir {} \; 2>/dev/null || true
      if [ -d "$dir" ] && [ "$dir" != "$mount/crio" ]; then say "crio: cgroup $dir is not empty; left in place"; fi
    done
  done
  return 0
}

crio_status() {
  if ! crio_available; then
    echo "crio: not available (no CRI-O build in $CRIO_PEER)"
  elif pid_alive "$CRIO_PID"; then
    echo "crio: running (pid $(cat "$CRIO_PID")), unix://$CRIO_SOCK"
  else
    echo "crio: not running"
  fi
}

UP_STEPS+=(crio_up)
DOWN_STEPS+=(crio_down)
STATUS_STEPS+=(crio_status)
