# containerd: Debian's containerd with its own root, state, socket, CNI
# network and registry mirrors, all under $CRISP_ENV_DIR/containerd.

CD_DIR="$CRISP_ENV_DIR/containerd"
CD_SOCK="$CD_DIR/containerd.sock"
CD_PID="$CD_DIR/containerd.pid"
CD_LOG="$CD_DIR/containerd.log"
# Our own network name, bridge and subnet, so that several runtimes (and
# several environments, by CRISP_ENV_INSTANCE) can share the host, and so
# that `down` can tell our netns and iptables rules apart.
CD_INSTANCE=${CRISP_ENV_INSTANCE:-0}
CD_NET=crisp-containerd-$CD_INSTANCE
CD_BRIDGE=crisp-cd$CD_INSTANCE
CD_POD_CIDR=${CRISP_POD_CIDR:-10.$((88 + CD_INSTANCE)).0.0/16}

containerd_write_config() {
  mkdir -p "$CD_DIR"/{root,state,opt,net.d,certs.d,ipam}
  local sandbox_image=${CRISP_SANDBOX_IMAGE:-registry.k8s.io/pause:3.9}
  cat > "$CD_DIR/config.toml" <<TOML
# Written by ci/env.
version = 2
root = "$CD_DIR/root"
state = "$CD_DIR/state"

[grpc]
  address = "$CD_SOCK"
[ttrpc]
  address = "$CD_SOCK.ttrpc"
[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$CD_DIR/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$sandbox_image"
  # This machine's root lacks CAP_SYS_RESOURCE: without this no pod starts.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.crun]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.crun.options]
        BinaryName = "/usr/bin/crun"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$CD_DIR/net.d"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$CD_DIR/certs.d"
TOML

  write_bridge_conflist "$CD_DIR/net.d/10-$CD_NET.conflist" "$CD_NET" "$CD_BRIDGE" "$CD_POD_CIDR" "$CD_DIR/ipam"
  pin_bridge "$CD_BRIDGE"

  # Registry mirrors: every registry test images name resolves to the local
  # registry over plain HTTP.
  local registry
  for registry in docker.io registry.k8s.io gcr.io quay.io k8s.gcr.io; do
    mkdir -p "$CD_DIR/certs.d/$registry"
    if [ -n "${CRISP_REGISTRY:-}" ]; then
      cat > "$CD_DIR/certs.d/$registry/hosts.toml" <<TOML
server = "http://$CRISP_REGISTRY"
[host."http://$CRISP_REGISTRY"]
  capabilities = ["pull", "resolve"]
  skip_verify = true
TOML
    fi
  done
}

containerd_answers() {
  ctr --address "$CD_SOCK" version
}

containerd_up() {
  if ! pid_alive "$CD_PID"; then
    containerd_write_config
  fi
  start_daemon containerd "$CD_PID" "$CD_LOG" containerd --config "$CD_DIR/config.toml"
  wait_until 60 containerd "$CD_PID" "$CD_LOG" containerd_answers
  set_var CRISP_CONTAINERD_ENDPOINT "unix://$CD_SOCK"
  set_var CRISP_POD_CIDR "$CD_POD_CIDR"
}

# Pods first, through CRI while containerd still runs, so that CNI tears
# down their networks; then whatever is left, by hand.
containerd_down() {
  if pid_alive "$CD_PID"; then
    local crisp
    crisp=$(crisp_binary || true)
    if [ -n "$crisp" ]; then
      "$crisp" clean -e "unix://$CD_SOCK" --all >&2 ||
        say "containerd: crisp clean failed; sweeping by hand"
    fi
  fi
  stop_daemon containerd "$CD_PID"
  # Shims outlive containerd by design; ours name our socket. The container
  # processes outlive their shims: find them by the task IDs in our state.
  pkill -KILL -f -- "-address $CD_SOCK" 2>/dev/null || true
  containerd_kill_tasks
  containerd_sweep_netns
  containerd_sweep_iptables
  ip link del "$CD_BRIDGE" 2>/dev/null || true
  unmount_under "$CD_DIR"
}

# Every process in the cgroup of a task this containerd ran.
containerd_kill_tasks() {
  local tasks="$CD_DIR/state/io.containerd.runtime.v2.task" id pids
  [ -d "$tasks" ] || return 0
  for id in $(ls "$tasks"/*/ 2>/dev/null); do
    pids=$(grep -l -- "/$id\$" /proc/[0-9]*/cgroup 2>/dev/null | cut -d/ -f3 || true)
    if [ -n "$pids" ]; then
      say "containerd: killing leftover processes of task ${id:0:12}: $(echo $pids)"
      kill -KILL $pids 2>/dev/null || true
    fi
  done
}

# Network namespaces whose pod address lies in our pod CIDR.
containerd_sweep_netns() { sweep_netns_in "$CD_POD_CIDR" containerd; }

# portmap's rules carry our network name in their comments.
containerd_sweep_iptables() { sweep_portmap_chains "$CD_NET"; }

containerd_status() {
  if pid_alive "$CD_PID"; then
    echo "containerd: running (pid $(cat "$CD_PID")), unix://$CD_SOCK"
  else
    echo "containerd: not running"
  fi
}

UP_STEPS+=(containerd_up)
DOWN_STEPS+=(containerd_down)
STATUS_STEPS+=(containerd_status)
