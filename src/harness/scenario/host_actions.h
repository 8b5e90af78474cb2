// Host-side steps: what a scenario does on the host, beside the runtime
// (a temp directory to mount as a volume, a mount to watch propagate, a TCP
// listener to look for from a host-network pod, an HTTP GET to a pod).
// This is the vocabulary the loader checks; the runner carries it out
// (runner/host_actions.h).
#pragma once

#include <span>
#include <string_view>
#include <vector>

namespace crisp::scenario {

struct HostAction {
  std::string_view name;
  std::vector<std::string_view> required;  // argument keys
  std::vector<std::string_view> optional;
  std::string_view result;                 // what the step's result has, for docs and errors
  bool repeatable;                         // false: the step cannot take wait: (it uses up what it acts on)
  // What the action needs of the node when crisp runs apart from the
  // runtime (in a pod), as requirement words: "node-mount-namespace" for
  // paths the runtime must see, "node-network-namespace" for addresses it
  // listens on or reaches; a host command may look at anything, so `run`
  // needs every namespace. The runner treats them as implied `requires:`.
  std::vector<std::string_view> node_requirements;
};

inline constexpr std::string_view kNodeMount = "node-mount-namespace";
inline constexpr std::string_view kNodeNetwork = "node-network-namespace";
inline constexpr std::string_view kNodePid = "node-pid-namespace";
inline constexpr std::string_view kNodeIpc = "node-ipc-namespace";
// What a log step needs: the node's pod log directories (runner/node.h).
inline constexpr std::string_view kNodePodLogs = "node-pod-logs";

std::span<const HostAction> HostActions();
const HostAction* FindHostAction(std::string_view name);

}  // namespace crisp::scenario
