#include "reference_runtime/host/bridge_network.h"

#include <fcntl.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>

#include "absl/status/status.h"
#include "common/strings.h"
#include "reference_runtime/host/stage_clock.h"

namespace crisp::crispd {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* object) const { Free(object); }
};
using Socket = std::unique_ptr<nl_sock, Deleter<nl_sock, nl_socket_free>>;
using Link = std::unique_ptr<rtnl_link, Deleter<rtnl_link, rtnl_link_put>>;
using Address = std::unique_ptr<nl_addr, Deleter<nl_addr, nl_addr_put>>;
using InterfaceAddress = std::unique_ptr<rtnl_addr, Deleter<rtnl_addr, rtnl_addr_put>>;
using Route = std::unique_ptr<rtnl_route, Deleter<rtnl_route, rtnl_route_put>>;

absl::Status NetlinkError(const std::string& what, int error) {
  return absl::InternalError(crisp::StrCat(what, ": ", nl_geterror(error)));
}

absl::Status SystemError(const std::string& what) {
  return absl::InternalError(crisp::StrCat(what, ": ", std::strerror(errno)));
}

// A route netlink socket in the network namespace of the calling thread
// (a socket stays in the namespace it was made in).
absl::StatusOr<Socket> Connect() {
  Socket socket(nl_socket_alloc());
  if (!socket) return absl::ResourceExhaustedError("cannot allocate a netlink socket");
  if (int error = nl_connect(socket.get(), NETLINK_ROUTE); error < 0) return NetlinkError("netlink connect", error);
  return socket;
}

absl::StatusOr<Link> GetLink(nl_sock* socket, const std::string& name) {
  rtnl_link* link = nullptr;
  if (int error = rtnl_link_get_kernel(socket, 0, name.c_str(), &link); error < 0) {
    if (error == -NLE_OBJ_NOTFOUND || error == -NLE_NODEV) return absl::NotFoundError(crisp::StrCat("no link ", name));
    return NetlinkError("looking up link " + name, error);
  }
  return Link(link);
}

// Sets `name` up, and on `master` when given.
absl::Status LinkUp(nl_sock* socket, const std::string& name, int master = 0) {
  absl::StatusOr<Link> link = GetLink(socket, name);
  if (!link.ok()) return link.status();
  Link change(rtnl_link_alloc());
  rtnl_link_set_flags(change.get(), IFF_UP);
  if (master > 0) rtnl_link_set_master(change.get(), master);
  if (int error = rtnl_link_change(socket, link->get(), change.get(), 0); error < 0) {
    return NetlinkError("setting link " + name + " up", error);
  }
  return absl::OkStatus();
}

absl::StatusOr<Address> ParseAddress(const std::string& text) {
  nl_addr* address = nullptr;
  if (int error = nl_addr_parse(text.c_str(), AF_INET, &address); error < 0) {
    return NetlinkError("parsing address " + text, error);
  }
  return Address(address);
}

// `cidr` on link `ifindex`; already there is fine when `existing_ok`.
absl::Status AddAddress(nl_sock* socket, int ifindex, const std::string& cidr, bool existing_ok) {
  absl::StatusOr<Address> local = ParseAddress(cidr);
  if (!local.ok()) return local.status();
  InterfaceAddress address(rtnl_addr_alloc());
  rtnl_addr_set_ifindex(address.get(), ifindex);
  if (int error = rtnl_addr_set_local(address.get(), local->get()); error < 0) return NetlinkError("address " + cidr, error);
  int error = rtnl_addr_add(socket, address.get(), 0);
  if (error < 0 && !(existing_ok && error == -NLE_EXIST)) return NetlinkError("adding address " + cidr, error);
  return absl::OkStatus();
}

absl::Status DefaultRoute(nl_sock* socket, int ifindex, const std::string& gateway) {
  absl::StatusOr<Address> destination = ParseAddress("0.0.0.0/0");
  absl::StatusOr<Address> via = ParseAddress(gateway);
  if (!destination.ok()) return destination.status();
  if (!via.ok()) return via.status();
  Route route(rtnl_route_alloc());
  rtnl_route_set_family(route.get(), AF_INET);
  rtnl_route_set_dst(route.get(), destination->get());
  rtnl_nexthop* hop = rtnl_route_nh_alloc();  // owned by the route once added
  rtnl_route_nh_set_ifindex(hop, ifindex);
  rtnl_route_nh_set_gateway(hop, via->get());
  rtnl_route_add_nexthop(route.get(), hop);
  if (int error = rtnl_route_add(socket, route.get(), NLM_F_CREATE); error < 0) {
    return NetlinkError("adding the default route via " + gateway, error);
  }
  return absl::OkStatus();
}

absl::Status WriteText(const std::string& path, const std::string& text) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return SystemError("opening " + path);
  bool written = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  return written ? absl::OkStatus() : SystemError("writing " + path);
}

std::string NewVethName() {
  static thread_local std::mt19937 random{std::random_device{}()};
  char name[IFNAMSIZ];
  std::snprintf(name, sizeof(name), "veth%08x", static_cast<unsigned>(random()));
  return name;
}

struct PodLink {
  std::string netns;     // a file to bind the new namespace on
  std::string veth;      // the host side's name
  int bridge_index = 0;
  std::string address;   // "10.98.0.2/16"
  std::string gateway;   // "10.98.0.1"
};

// On a thread of its own: the new netns, lo up, the veth pair with eth0
// inside, on the bridge, the address and the default route.
absl::Status MakePodLinkOnThisThread(const PodLink& pod) {
  absl::StatusOr<Socket> host = Connect();  // before unshare: the node's namespace
  if (!host.ok()) return host.status();
  if (unshare(CLONE_NEWNET) != 0) return SystemError("unshare of a network namespace");
  if (mount("/proc/thread-self/ns/net", pod.netns.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    return SystemError("binding the network namespace on " + pod.netns);
  }
  Stage("net.netns");
  absl::StatusOr<Socket> inside = Connect();
  if (!inside.ok()) return inside.status();
  if (absl::Status up = LinkUp(inside->get(), "lo"); !up.ok()) return up;

  Link veth(rtnl_link_veth_alloc());
  if (!veth) return absl::ResourceExhaustedError("cannot allocate a veth link");
  rtnl_link_set_name(veth.get(), pod.veth.c_str());
  rtnl_link* peer = rtnl_link_veth_get_peer(veth.get());
  rtnl_link_set_name(peer, "eth0");
  int own_netns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (own_netns < 0) {
    rtnl_link_put(peer);
    return SystemError("opening the new network namespace");
  }
  rtnl_link_set_ns_fd(peer, own_netns);
  rtnl_link_put(peer);
  int added = rtnl_link_add(host->get(), veth.get(), NLM_F_CREATE | NLM_F_EXCL);
  close(own_netns);
  if (added < 0) return NetlinkError("adding the veth pair " + pod.veth + "/eth0", added);
  if (absl::Status up = LinkUp(host->get(), pod.veth, pod.bridge_index); !up.ok()) return up;
  // hairpinMode: a pod reaches itself through its own service address.
  if (absl::Status hairpin = WriteText("/sys/class/net/" + pod.veth + "/brport/hairpin_mode", "1"); !hairpin.ok()) {
    return hairpin;
  }
  Stage("net.veth");

  absl::StatusOr<Link> eth0 = GetLink(inside->get(), "eth0");
  if (!eth0.ok()) return eth0.status();
  const int index = rtnl_link_get_ifindex(eth0->get());
  if (absl::Status added_address = AddAddress(inside->get(), index, pod.address, false); !added_address.ok()) {
    return added_address;
  }
  if (absl::Status up = LinkUp(inside->get(), "eth0"); !up.ok()) return up;
  if (absl::Status routed = DefaultRoute(inside->get(), index, pod.gateway); !routed.ok()) return routed;
  Stage("net.address");
  return absl::OkStatus();
}

// On a thread of its own: eth0 in `netns` deleted (its veth peer goes too).
absl::Status DeletePodLinkOnThisThread(const std::string& netns) {
  int fd = open(netns.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? absl::OkStatus() : SystemError("opening " + netns);
  int joined = setns(fd, CLONE_NEWNET);
  const int saved = errno;
  close(fd);
  errno = saved;
  // Not a namespace (a file whose bind mount is gone): nothing to delete in it.
  if (joined != 0) return errno == EINVAL ? absl::OkStatus() : SystemError("joining " + netns);
  absl::StatusOr<Socket> inside = Connect();
  if (!inside.ok()) return inside.status();
  absl::StatusOr<Link> eth0 = GetLink(inside->get(), "eth0");
  if (absl::IsNotFound(eth0.status())) return absl::OkStatus();
  if (!eth0.ok()) return eth0.status();
  if (int error = rtnl_link_delete(inside->get(), eth0->get()); error < 0 && error != -NLE_OBJ_NOTFOUND) {
    return NetlinkError("deleting eth0 in " + netns, error);
  }
  return absl::OkStatus();
}

// Runs `fn` on a new thread, which ends with it: the network namespace it
// enters is its own, never a pooled thread's. Its stages count on the
// caller's clock.
template <typename Fn>
absl::Status OnOwnThread(Fn fn) {
  absl::Status status;
  StageClock* clock = CurrentStageClock();
  std::thread([&] {
    StageClockLoan loan(clock);
    status = fn();
  }).join();
  return status;
}

}  // namespace

absl::StatusOr<std::unique_ptr<BridgePodNetwork>> BridgePodNetwork::Open(CniConfig config) {
  absl::StatusOr<Ipv4Subnet> subnet = Ipv4Subnet::Parse(config.subnet);
  if (!subnet.ok()) return subnet.status();
  std::unique_ptr<BridgePodNetwork> network(new BridgePodNetwork(std::move(config), *subnet));
  if (absl::Status written = network->plugins_.EnsureDefaultNetwork(); !written.ok()) return written;
  return network;
}

BridgePodNetwork::BridgePodNetwork(CniConfig config, Ipv4Subnet subnet)
    : config_(config), subnet_(subnet), cni_(config), plugins_(config), ipam_(config.ipam_dir, "crispd", subnet) {}

bool BridgePodNetwork::Default() const { return !config_.ipam_dir.empty() && plugins_.UsesDefaultNetwork(); }

absl::Status BridgePodNetwork::EnsureBridge() {
  std::lock_guard<std::mutex> lock(bridge_mu_);
  if (bridge_ready_) return absl::OkStatus();
  absl::Status status = OnOwnThread([&]() -> absl::Status {
    absl::StatusOr<Socket> socket = Connect();
    if (!socket.ok()) return socket.status();
    absl::StatusOr<Link> bridge = GetLink(socket->get(), config_.bridge);
    if (absl::IsNotFound(bridge.status())) {
      Link made(rtnl_link_alloc());
      rtnl_link_set_name(made.get(), config_.bridge.c_str());
      if (int error = rtnl_link_set_type(made.get(), "bridge"); error < 0) return NetlinkError("bridge type", error);
      if (int error = rtnl_link_add(socket->get(), made.get(), NLM_F_CREATE); error < 0 && error != -NLE_EXIST) {
        return NetlinkError("adding the bridge " + config_.bridge, error);
      }
      bridge = GetLink(socket->get(), config_.bridge);
    }
    if (!bridge.ok()) return bridge.status();
    const std::string gateway = crisp::StrCat(FormatIpv4(subnet_.gateway()), "/", subnet_.prefix);
    if (absl::Status added = AddAddress(socket->get(), rtnl_link_get_ifindex(bridge->get()), gateway, true); !added.ok()) {
      return added;
    }
    if (absl::Status up = LinkUp(socket->get(), config_.bridge); !up.ok()) return up;
    return WriteText("/proc/sys/net/ipv4/ip_forward", "1");  // isGateway
  });
  bridge_ready_ = status.ok();
  return status;
}

json BridgePodNetwork::BridgeResult(const std::string& netns, const std::string& veth, uint32_t address) const {
  return {{"cniVersion", "0.4.0"},
          {"interfaces", {{{"name", config_.bridge}}, {{"name", veth}}, {{"name", "eth0"}, {"sandbox", netns}}}},
          {"ips",
           {{{"version", "4"},
             {"interface", 2},
             {"address", crisp::StrCat(FormatIpv4(address), "/", subnet_.prefix)},
             {"gateway", FormatIpv4(subnet_.gateway())}}}},
          {"routes", {{{"dst", "0.0.0.0/0"}}}},
          {"dns", json::object()}};
}

absl::StatusOr<std::string> BridgePodNetwork::Setup(const std::string& sandbox_id, const json& port_mappings) {
  if (!Default()) return cni_.Setup(sandbox_id, port_mappings);
  if (absl::Status ready = EnsureBridge(); !ready.ok()) return ready;
  const std::string netns = NetnsPath(sandbox_id);
  std::error_code error;
  fs::create_directories(fs::path(netns).parent_path(), error);
  int fd = open(netns.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  if (fd < 0) return SystemError("creating " + netns);
  close(fd);
  absl::StatusOr<uint32_t> address = ipam_.Reserve(sandbox_id, "eth0");
  if (!address.ok()) {
    Teardown(sandbox_id, netns, json::array()).IgnoreError();  // the file made above
    return address.status();
  }
  Stage("net.ipam");
  PodLink pod{netns, NewVethName(), 0, crisp::StrCat(FormatIpv4(*address), "/", subnet_.prefix),
              FormatIpv4(subnet_.gateway())};
  auto find_bridge = [&] {
    return OnOwnThread([&]() -> absl::Status {
      absl::StatusOr<Socket> socket = Connect();
      if (!socket.ok()) return socket.status();
      absl::StatusOr<Link> bridge = GetLink(socket->get(), config_.bridge);
      if (!bridge.ok()) return bridge.status();
      pod.bridge_index = rtnl_link_get_ifindex(bridge->get());
      return absl::OkStatus();
    });
  };
  absl::Status made = find_bridge();
  if (absl::IsNotFound(made)) {
    // Deleted behind crispd's back (ip link del): made again, as at the
    // first pod. The pods already on it lost their network with it.
    {
      std::lock_guard<std::mutex> lock(bridge_mu_);
      bridge_ready_ = false;
    }
    made = EnsureBridge();
    if (made.ok()) made = find_bridge();
  }
  if (made.ok()) made = OnOwnThread([&] { return MakePodLinkOnThisThread(pod); });
  if (made.ok() && !port_mappings.empty()) {
    made = plugins_.RunPlugin("ADD", "portmap", sandbox_id, netns, BridgeResult(netns, pod.veth, *address),
                              port_mappings).status();
  }
  if (!made.ok()) {
    Teardown(sandbox_id, netns, port_mappings).IgnoreError();  // what was made, undone: the setup's error is the one to say
    return made;
  }
  return FormatIpv4(*address);
}

absl::Status BridgePodNetwork::Teardown(const std::string& sandbox_id, const std::string& netns,
                                        const json& port_mappings) {
  if (!Default()) return cni_.Teardown(sandbox_id, netns, port_mappings);
  absl::Status status;
  if (!port_mappings.empty()) {
    status = plugins_.RunPlugin("DEL", "portmap", sandbox_id, netns, nullptr, port_mappings).status();
  }
  if (absl::Status deleted = OnOwnThread([&] { return DeletePodLinkOnThisThread(netns); });
      !deleted.ok() && status.ok()) {
    status = deleted;
  }
  // "reclaims network resources (e.g., IP addresses) allocated to the sandbox"
  if (absl::Status released = ipam_.Release(sandbox_id, "eth0"); !released.ok() && status.ok()) status = released;
  umount2(netns.c_str(), MNT_DETACH);
  if (unlink(netns.c_str()) != 0 && errno != ENOENT && status.ok()) status = SystemError("removing " + netns);
  return status;
}

}  // namespace crisp::crispd
