// CNI: the network of a pod sandbox, by running the plugins of one network
// configuration list (SPEC.md's exec protocol) on the sandbox's netns.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace crisp::crispd {

struct CniConfig {
  std::string conf_dir = "/etc/crispd/net.d";
  std::string bin_dir = "/usr/lib/cni";
  std::string ipam_dir;      // host-local's dataDir for the default network
  std::string bridge = "crispd0";
  std::string subnet = "10.98.0.0/16";
};

class Cni {
 public:
  explicit Cni(CniConfig config) : config_(std::move(config)) {}

  // Writes the default bridge network (bridge, host-local, portmap) into an
  // empty conf_dir; a directory with a network already is left alone.
  absl::Status EnsureDefaultNetwork();
  // That network, as EnsureDefaultNetwork writes it.
  nlohmann::json DefaultNetwork() const;
  // Whether the network in use is the default one, word for word.
  bool UsesDefaultNetwork() const;

  // Runs one plugin of the network (by type) alone: ADD with `prev_result`,
  // or DEL. For the steps crispd does not do itself.
  absl::StatusOr<nlohmann::json> RunPlugin(const std::string& command, const std::string& type, const std::string& id,
                                           const std::string& netns, const nlohmann::json& prev_result,
                                           const nlohmann::json& port_mappings);

  // Whether a network and its plugins are there; `why` says what is missing.
  bool Ready(std::string* why) const;

  // Runs ADD for every plugin (and loopback for lo); returns the pod's IPv4
  // address. `port_mappings` is the portmap capability's runtimeConfig.
  absl::StatusOr<std::string> Add(const std::string& id, const std::string& netns,
                                  const nlohmann::json& port_mappings);
  // Runs DEL in reverse order; errors of plugins whose state is already gone
  // are ignored, as the spec asks of DEL.
  absl::Status Del(const std::string& id, const std::string& netns, const nlohmann::json& port_mappings);

 private:
  absl::StatusOr<nlohmann::json> Network() const;
  absl::StatusOr<nlohmann::json> Exec(const std::string& command, const nlohmann::json& plugin,
                                      const nlohmann::json& network, const std::string& id,
                                      const std::string& netns, const std::string& ifname,
                                      const nlohmann::json& prev_result, const nlohmann::json& port_mappings);

  CniConfig config_;
};

}  // namespace crisp::crispd
