// The pod network without plugin processes, for crispd's own default
// network (the bridge network crispd writes into an empty --cni-conf-dir):
// the netns, the veth pair on the bridge, the address and the routes are
// made over netlink (libnl-route) from a short-lived thread of crispd's,
// and addresses are kept as the host-local plugin keeps them, so that the
// CNI plugins can tear down what this made and the other way round. Port
// mappings are still the portmap plugin's (iptables rules), given the
// result the bridge plugin would have given it. Any other network
// configuration goes to the CNI plugins as it is.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "reference_runtime/host/real_host.h"
#include "reference_runtime/sandbox/host_local_ipam.h"

namespace crisp::crispd {

class BridgePodNetwork : public PodNetwork {
 public:
  // Writes the default network into an empty config directory, as CNI does.
  static absl::StatusOr<std::unique_ptr<BridgePodNetwork>> Open(CniConfig config);

  bool Ready(std::string* why) const override { return cni_.Ready(why); }
  std::string NetnsPath(const std::string& sandbox_id) const override { return cni_.NetnsPath(sandbox_id); }
  absl::StatusOr<std::string> Setup(const std::string& sandbox_id, const nlohmann::json& port_mappings) override;
  absl::Status Teardown(const std::string& sandbox_id, const std::string& netns,
                        const nlohmann::json& port_mappings) override;

 private:
  BridgePodNetwork(CniConfig config, Ipv4Subnet subnet);
  // Whether the configured network is still the default one, word for word.
  bool Default() const;
  // The bridge, up, with the gateway address; IPv4 forwarding on. Once.
  absl::Status EnsureBridge();
  // The result the bridge plugin gives, for portmap's prevResult.
  nlohmann::json BridgeResult(const std::string& netns, const std::string& veth, uint32_t address) const;

  CniConfig config_;
  Ipv4Subnet subnet_;
  CniPodNetwork cni_;
  Cni plugins_;
  HostLocalIpam ipam_;
  std::mutex bridge_mu_;
  bool bridge_ready_ = false;
};

}  // namespace crisp::crispd
