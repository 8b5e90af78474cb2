// The OCI runtime spec (config.json) of a container, from its CRI config,
// its image config and its sandbox, by containerd's rules wherever the CRI
// leaves room (the research notes list them). Pure: no I/O but reading the
// container's own /etc/passwd and /etc/group through the given root, and a
// Localhost seccomp profile from the node.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "runtime/v1/api.pb.h"

namespace crisp::crispd {

struct SpecInputs {
  const runtime::v1::ContainerConfig* config = nullptr;
  // Where a mount's files are, by its index in config->mounts, when not at
  // its host_path: an image volume's prepared directory.
  std::map<int, std::string> mount_sources;
  const runtime::v1::PodSandboxConfig* sandbox_config = nullptr;
  nlohmann::json image_config;   // the image config's "config" object
  std::string id;
  std::string sandbox_id;
  std::string rootfs;            // the mounted root (its /etc/passwd is read)
  std::string sandbox_dir;       // hostname, hosts, resolv.conf, shm
  // The pod's namespaces to join, by OCI type (SandboxInfo::namespaces):
  // a pod without a shared PID namespace has no "pid".
  std::map<std::string, std::string> namespaces;
  // pid TARGET: the target container's PID namespace (/proc/PID/ns/pid).
  std::string target_pid_namespace;
  std::string hostname;
  std::vector<std::string> bounding_capabilities;  // crispd's own: nothing beyond is asked for
  int min_oom_score_adj = 0;     // crispd's own: nothing lower is asked for
};

// The args a container runs: CRI command/args over the image's
// Entrypoint/Cmd. InvalidArgument when nothing is left.
absl::StatusOr<std::vector<std::string>> ContainerArgs(const runtime::v1::ContainerConfig& config,
                                                       const nlohmann::json& image_config);

// The environment: HOSTNAME, then the image's, then the CRI's; later keys win.
std::vector<std::string> ContainerEnv(const runtime::v1::ContainerConfig& config,
                                      const nlohmann::json& image_config, const std::string& hostname);

absl::StatusOr<nlohmann::json> BuildContainerSpec(const SpecInputs& inputs);

// The OCI linux.resources limits (cpu, memory, hugepageLimits, unified) the
// CRI resources ask for; what is zero or empty is left out. Devices are the
// caller's.
nlohmann::json OciResources(const runtime::v1::LinuxContainerResources& resources);

// Capability names in crispd's bounding set, as "CAP_CHOWN", ...
std::vector<std::string> OwnBoundingCapabilities();

}  // namespace crisp::crispd
