// IPv4 addresses of the default pod network, kept on disk in the format of
// the CNI host-local plugin (containernetworking/plugins, disk backend), so
// that either can release what the other reserved: one file per address
// under <data_dir>/<network>/ holding "<container id>\r\n<ifname>", the last
// address handed out in last_reserved_ip.0, and an flock on `lock`.
// Addresses are handed out after the last one, round the range (the
// subnet without its network, gateway and broadcast addresses).
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace crisp::crispd {

struct Ipv4Subnet {
  uint32_t network = 0;  // host byte order
  int prefix = 0;
  static absl::StatusOr<Ipv4Subnet> Parse(const std::string& cidr);  // "10.98.0.0/16"
  uint32_t gateway() const { return network + 1; }                   // the bridge's address (isGateway)
  uint32_t broadcast() const { return network | (prefix == 0 ? ~0u : (1u << (32 - prefix)) - 1); }
};

std::string FormatIpv4(uint32_t address);  // host byte order

class HostLocalIpam {
 public:
  HostLocalIpam(std::string data_dir, std::string network, Ipv4Subnet subnet);

  // The next free address, reserved for `id` on `ifname`.
  absl::StatusOr<uint32_t> Reserve(const std::string& id, const std::string& ifname);
  // Frees every address reserved for `id` on `ifname`; none is fine.
  absl::Status Release(const std::string& id, const std::string& ifname);

 private:
  std::string dir_;
  Ipv4Subnet subnet_;
};

}  // namespace crisp::crispd
