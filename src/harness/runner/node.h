// Where a run happens: the node's name, kernel and OS (what a fleet report
// groups runs by), and which of the runtime's namespaces crisp shares. On a
// node crisp shares them all; in a pod (a DaemonSet, `crisp launch`) only
// those the pod was given, and host-side steps that need another one are
// n.a. (docs/fleet.md).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace crisp::runner {

struct NodeFacts {
  std::string name;    // $CRISP_NODE_NAME (a pod's spec.nodeName), else the hostname
  std::string kernel;  // uname: release
  std::string os;      // PRETTY_NAME of $CRISP_NODE_OS_RELEASE, else of /etc/os-release
  std::string arch;    // uname: machine

  static NodeFacts Probe();
  nlohmann::json ToJson() const;
};

// Which of the runtime's namespaces crisp is in. Found from the runtime's
// end of its CRI socket: SO_PEERCRED gives the runtime's PID as crisp's PID
// namespace sees it (0 when it does not see it), and /proc/PID/ns/* are
// compared with crisp's own; a namespace it cannot compare counts as not
// shared. $CRISP_NODE_NAMESPACES ("mnt,net,pid,ipc",
// or "none") states them instead, for a runtime crisp cannot see.
// Where the suites' pods keep their logs (their log_directory values).
inline constexpr char kPodLogRoot[] = "/tmp/crisp/pods";

struct NodeView {
  bool mnt = true;
  bool net = true;
  bool pid = true;
  bool ipc = true;
  // Paths of the node mounted at the same place in crisp's pod, from
  // $CRISP_NODE_PATHS (colon-separated; crisp launch and deploy/'s
  // manifests set it for the mounts they make).
  std::vector<std::string> node_paths;
  // How it was found: "peer PID 1234: same mnt, other net, ...",
  // "$CRISP_NODE_NAMESPACES", "the bundled runtime runs beside crisp".
  std::string how = "not probed";

  // `socket_path` empty: the runtime is crisp's own child (all shared).
  static NodeView Probe(const std::string& socket_path);
  static NodeView ProbeNamespaces(const std::string& socket_path);
  // What was found from a peer PID (0: not visible) and the namespace
  // links of both ends; for tests. `mine`/`theirs` map "mnt" to
  // "mnt:[4026531841]", "" when unreadable.
  static NodeView FromPeer(int peer_pid, const std::map<std::string, std::string>& mine,
                           const std::map<std::string, std::string>& theirs);
  // Parses $CRISP_NODE_NAMESPACES; an error names the unknown word.
  static absl::StatusOr<NodeView> FromList(std::string_view list);

  // Whether crisp sees the node's pod log directories: the same mount
  // namespace, or kPodLogRoot (or a parent) in node_paths.
  bool PodLogs() const;

  // "" when shared; otherwise why not, fit for a report.
  std::string Unshared(std::string_view requirement) const;
  nlohmann::json ToJson() const;
};

}  // namespace crisp::runner
