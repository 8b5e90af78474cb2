#include "reference_runtime/container/spec.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/status/status.h"
#include "common/strings.h"
#include "reference_runtime/container/seccomp.h"
#include "reference_runtime/sandbox/oci_defaults.h"

namespace crisp::crispd {
namespace {

namespace v1 = runtime::v1;
using nlohmann::json;

// Linux capability numbers 0..40, in order.
constexpr const char* kCapabilities[] = {
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
    "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
    "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"};

constexpr const char* kDefaultCapabilities[] = {
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
    "CAP_AUDIT_WRITE"};

std::string CapName(std::string name) {
  for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name.starts_with("CAP_") ? name : "CAP_" + name;
}

struct Passwd {
  std::string name;
  int64_t uid = 0;
  int64_t gid = 0;
};

std::vector<std::vector<std::string>> ReadColonFile(const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    std::stringstream stream(line);
    std::string field;
    while (std::getline(stream, field, ':')) fields.push_back(field);
    if (line.ends_with(":")) fields.push_back("");
    if (fields.size() >= 3) rows.push_back(std::move(fields));
  }
  return rows;
}

bool IsNumber(const std::string& text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The process user: run_as_username > run_as_user > image USER; groups from
// the container's own /etc/passwd and /etc/group.
absl::StatusOr<json> ResolveUser(const v1::LinuxContainerSecurityContext& security, const json& image_config,
                                 const std::string& rootfs) {
  std::string user;
  std::string group;
  if (!security.run_as_username().empty()) {
    user = security.run_as_username();
  } else if (security.has_run_as_user()) {
    user = std::to_string(security.run_as_user().value());
  } else {
    std::string image_user = image_config.value("User", "");
    user = image_user.substr(0, image_user.find(':'));
    if (image_user.find(':') != std::string::npos) group = image_user.substr(image_user.find(':') + 1);
  }
  if (security.has_run_as_group()) {
    if (user.empty() && security.run_as_username().empty() && !security.has_run_as_user()) {
      return absl::InvalidArgumentError("run_as_group is set without run_as_user or run_as_username");
    }
    group = std::to_string(security.run_as_group().value());
  }
  auto passwd = ReadColonFile(rootfs + "/etc/passwd");
  auto groups = ReadColonFile(rootfs + "/etc/group");
  Passwd resolved;
  std::string name;
  if (user.empty()) user = "0";
  if (IsNumber(user)) {
    resolved.uid = std::stoll(user);
    for (const auto& row : passwd) {
      if (IsNumber(row[2]) && std::stoll(row[2]) == resolved.uid) {
        name = row[0];
        if (row.size() > 3 && IsNumber(row[3])) resolved.gid = std::stoll(row[3]);
        break;
      }
    }
  } else {
    bool found = false;
    for (const auto& row : passwd) {
      if (row[0] == user && IsNumber(row[2])) {
        resolved.uid = std::stoll(row[2]);
        if (row.size() > 3 && IsNumber(row[3])) resolved.gid = std::stoll(row[3]);
        name = user;
        found = true;
        break;
      }
    }
    if (!found) return absl::InvalidArgumentError(crisp::StrCat("user \"", user, "\" is not in the image's /etc/passwd"));
  }
  if (!group.empty()) {
    if (IsNumber(group)) {
      resolved.gid = std::stoll(group);
    } else {
      bool found = false;
      for (const auto& row : groups) {
        if (row[0] == group && IsNumber(row[2])) {
          resolved.gid = std::stoll(row[2]);
          found = true;
        }
      }
      if (!found) return absl::InvalidArgumentError(crisp::StrCat("group \"", group, "\" is not in the image's /etc/group"));
    }
  }
  json additional = json::array();
  if (!name.empty() && security.supplemental_groups_policy() != v1::Strict) {
    for (const auto& row : groups) {
      if (row.size() < 4 || !IsNumber(row[2])) continue;
      std::stringstream members(row[3]);
      std::string member;
      while (std::getline(members, member, ',')) {
        if (member == name) additional.push_back(std::stoll(row[2]));
      }
    }
  }
  for (int64_t gid : security.supplemental_groups()) additional.push_back(gid);
  json spec_user = {{"uid", resolved.uid}, {"gid", resolved.gid}};
  if (!additional.empty()) spec_user["additionalGids"] = additional;
  return spec_user;
}

json Capabilities(const v1::LinuxContainerSecurityContext& security, const std::vector<std::string>& bounding) {
  std::vector<std::string> caps;
  if (security.privileged()) {
    caps = bounding;
  } else {
    caps.assign(std::begin(kDefaultCapabilities), std::end(kDefaultCapabilities));
    for (const auto& add : security.capabilities().add_capabilities()) {
      if (CapName(add) == "CAP_ALL") {
        caps = bounding;
      } else if (std::find(caps.begin(), caps.end(), CapName(add)) == caps.end()) {
        caps.push_back(CapName(add));
      }
    }
    for (const auto& drop : security.capabilities().drop_capabilities()) {
      if (CapName(drop) == "CAP_ALL") {
        caps.clear();
      } else {
        std::erase(caps, CapName(drop));
      }
    }
  }
  // Never ask runc for a capability crispd itself lacks (CAP_SYS_RESOURCE here).
  std::erase_if(caps, [&](const std::string& cap) {
    return std::find(bounding.begin(), bounding.end(), cap) == bounding.end();
  });
  return {{"bounding", caps}, {"effective", caps}, {"permitted", caps}};
}

}  // namespace

std::vector<std::string> OwnBoundingCapabilities() {
  std::ifstream status("/proc/self/status");
  std::string line;
  uint64_t mask = 0;
  while (std::getline(status, line)) {
    if (line.starts_with("CapBnd:")) mask = std::stoull(line.substr(7), nullptr, 16);
  }
  std::vector<std::string> caps;
  for (size_t bit = 0; bit < std::size(kCapabilities); ++bit) {
    if (mask & (uint64_t{1} << bit)) caps.push_back(kCapabilities[bit]);
  }
  return caps;
}

absl::StatusOr<std::vector<std::string>> ContainerArgs(const v1::ContainerConfig& config, const json& image_config) {
  std::vector<std::string> args;
  if (!config.command().empty()) {
    args.assign(config.command().begin(), config.command().end());
    args.insert(args.end(), config.args().begin(), config.args().end());
  } else {
    for (const auto& part : image_config.value("Entrypoint", json::array())) {
      if (part.is_string()) args.push_back(part);
    }
    if (!config.args().empty()) {
      args.insert(args.end(), config.args().begin(), config.args().end());
    } else {
      for (const auto& part : image_config.value("Cmd", json::array())) {
        if (part.is_string()) args.push_back(part);
      }
    }
  }
  if (args.empty()) return absl::InvalidArgumentError("no command specified: neither the config nor the image gives one");
  return args;
}

std::vector<std::string> ContainerEnv(const v1::ContainerConfig& config, const json& image_config,
                                      const std::string& hostname) {
  std::vector<std::pair<std::string, std::string>> env = {{"HOSTNAME", hostname}};
  auto set = [&](const std::string& key, const std::string& value) {
    for (auto& entry : env) {
      if (entry.first == key) {
        entry.second = value;
        return;
      }
    }
    env.emplace_back(key, value);
  };
  bool has_path = false;
  for (const auto& item : image_config.value("Env", json::array())) {
    if (!item.is_string()) continue;
    std::string text = item;
    size_t eq = text.find('=');
    set(text.substr(0, eq), eq == std::string::npos ? "" : text.substr(eq + 1));
    has_path = has_path || text.starts_with("PATH=");
  }
  if (!has_path) set("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  for (const auto& kv : config.envs()) set(kv.key(), kv.value());
  if (config.tty()) set("TERM", "xterm");
  std::vector<std::string> out;
  for (const auto& [key, value] : env) out.push_back(key + "=" + value);
  return out;
}

json OciResources(const v1::LinuxContainerResources& resources) {
  json out = json::object();
  if (resources.cpu_shares() > 0) out["cpu"]["shares"] = resources.cpu_shares();
  if (resources.cpu_quota() > 0) out["cpu"]["quota"] = resources.cpu_quota();
  if (resources.cpu_period() > 0) out["cpu"]["period"] = resources.cpu_period();
  if (!resources.cpuset_cpus().empty()) out["cpu"]["cpus"] = resources.cpuset_cpus();
  if (!resources.cpuset_mems().empty()) out["cpu"]["mems"] = resources.cpuset_mems();
  if (resources.memory_limit_in_bytes() > 0) out["memory"]["limit"] = resources.memory_limit_in_bytes();
  if (resources.memory_swap_limit_in_bytes() > 0) out["memory"]["swap"] = resources.memory_swap_limit_in_bytes();
  for (const v1::HugepageLimit& hugepage : resources.hugepage_limits()) {
    out["hugepageLimits"].push_back({{"pageSize", hugepage.page_size()}, {"limit", hugepage.limit()}});
  }
  for (const auto& [key, value] : resources.unified()) out["unified"][key] = value;
  return out;
}

absl::StatusOr<json> BuildContainerSpec(const SpecInputs& in) {
  const v1::ContainerConfig& config = *in.config;
  const v1::LinuxContainerSecurityContext& security = config.linux().security_context();
  absl::StatusOr<std::vector<std::string>> args = ContainerArgs(config, in.image_config);
  if (!args.ok()) return args.status();
  if (security.privileged() && !in.sandbox_config->linux().security_context().privileged()) {
    return absl::InvalidArgumentError("a privileged container needs a privileged sandbox (its pod's security_context.privileged)");
  }
  absl::StatusOr<json> user = ResolveUser(security, in.image_config, in.rootfs);
  if (!user.ok()) return user.status();
  const json capabilities = Capabilities(security, in.bounding_capabilities);
  absl::StatusOr<std::optional<json>> seccomp =
      SeccompFor(security, capabilities["bounding"].get<std::vector<std::string>>());
  if (!seccomp.ok()) return seccomp.status();
  std::string cwd = !config.working_dir().empty() ? config.working_dir() : in.image_config.value("WorkingDir", "");
  if (cwd.empty()) cwd = "/";

  const bool readonly_root = security.readonly_rootfs();
  const std::string file_mode = readonly_root ? "ro" : "rw";
  json mounts = BaseMounts(/*writable_sys=*/security.privileged());
  for (json mount : json::array({
      {{"destination", "/dev/pts"}, {"type", "devpts"}, {"source", "devpts"},
       {"options", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}}},
      {{"destination", "/dev/mqueue"}, {"type", "mqueue"}, {"source", "mqueue"}, {"options", {"nosuid", "noexec", "nodev"}}},
      {{"destination", "/sys/fs/cgroup"}, {"type", "cgroup"}, {"source", "cgroup"},
       {"options", {"nosuid", "noexec", "nodev", "relatime", security.privileged() ? "rw" : "ro"}}},
      {{"destination", "/etc/hostname"}, {"type", "bind"}, {"source", in.sandbox_dir + "/hostname"}, {"options", {"rbind", "rprivate", file_mode}}},
      {{"destination", "/etc/hosts"}, {"type", "bind"}, {"source", in.sandbox_dir + "/hosts"}, {"options", {"rbind", "rprivate", file_mode}}},
      {{"destination", "/etc/resolv.conf"}, {"type", "bind"}, {"source", in.sandbox_dir + "/resolv.conf"}, {"options", {"rbind", "rprivate", file_mode}}},
  })) {
    mounts.push_back(std::move(mount));
  }
  const auto& sandbox_ns = in.sandbox_config->linux().security_context().namespace_options();
  if (sandbox_ns.ipc() != v1::NODE) {
    mounts.push_back({{"destination", "/dev/shm"}, {"type", "bind"}, {"source", in.sandbox_dir + "/shm"}, {"options", {"rbind", "rprivate", "rw"}}});
  }
  // A mount can only propagate as far as the container's root lets it: a
  // bidirectional mount needs a shared root, a host-to-container one a slave.
  std::string rootfs_propagation;
  for (const v1::Mount& mount : config.mounts()) {
    if (mount.propagation() == v1::PROPAGATION_BIDIRECTIONAL) {
      rootfs_propagation = "rshared";
    } else if (mount.propagation() == v1::PROPAGATION_HOST_TO_CONTAINER && rootfs_propagation.empty()) {
      rootfs_propagation = "rslave";
    }
  }
  for (int index = 0; index < config.mounts_size(); ++index) {
    const v1::Mount& mount = config.mounts(index);
    const auto prepared = in.mount_sources.find(index);
    const std::string& source = prepared != in.mount_sources.end() ? prepared->second : mount.host_path();
    std::string propagation = mount.propagation() == v1::PROPAGATION_BIDIRECTIONAL ? "rshared"
                              : mount.propagation() == v1::PROPAGATION_HOST_TO_CONTAINER ? "rslave"
                                                                                          : "rprivate";
    // A CRI mount replaces a default one at the same place.
    json kept = json::array();
    for (const json& m : mounts) {
      if (m["destination"] != mount.container_path()) kept.push_back(m);
    }
    mounts = std::move(kept);
    json options = {"rbind", propagation, mount.readonly() || mount.has_image() ? "ro" : "rw"};
    if (mount.recursive_read_only()) options.push_back("rro");  // submounts too (mount_setattr)
    mounts.push_back({{"destination", mount.container_path()}, {"type", "bind"}, {"source", source}, {"options", options}});
  }

  json namespaces = json::array({{{"type", "mount"}}});
  auto join = [&](const std::string& type) -> absl::Status {
    auto found = in.namespaces.find(type);
    if (found == in.namespaces.end()) {
      return absl::FailedPreconditionError(crisp::StrCat("the pod sandbox has no ", type, " namespace to join"));
    }
    namespaces.push_back({{"type", type}, {"path", found->second}});
    return absl::OkStatus();
  };
  if (sandbox_ns.network() != v1::NODE) {
    if (absl::Status joined = join("network"); !joined.ok()) return joined;
  }
  if (sandbox_ns.ipc() != v1::NODE) {
    if (absl::Status joined = join("ipc"); !joined.ok()) return joined;
  }
  if (absl::Status joined = join("uts"); !joined.ok()) return joined;
  const auto& container_ns = security.namespace_options();
  const bool shares_pod_pid =
      container_ns.pid() == v1::POD || (container_ns.pid() != v1::NODE && sandbox_ns.pid() != v1::NODE);
  if (container_ns.pid() == v1::TARGET) {
    if (in.target_pid_namespace.empty()) return absl::InvalidArgumentError("pid namespace TARGET without a target");
    namespaces.push_back({{"type", "pid"}, {"path", in.target_pid_namespace}});
  } else if (container_ns.pid() != v1::CONTAINER && shares_pod_pid && in.namespaces.count("pid")) {
    namespaces.push_back({{"type", "pid"}, {"path", in.namespaces.at("pid")}});
  } else if (container_ns.pid() == v1::CONTAINER || shares_pod_pid) {
    // Its own; also when the pod keeps none to share (its containers' PID
    // namespaces are their own: pid CONTAINER at the pod level).
    namespaces.push_back({{"type", "pid"}});
  }

  const v1::LinuxContainerResources& resources = config.linux().resources();
  json linux_resources = OciResources(resources);
  linux_resources["devices"] = {{{"allow", security.privileged()}, {"access", "rwm"}}};

  std::string cgroup_parent = in.sandbox_config->linux().cgroup_parent().empty() ? "/crispd" : in.sandbox_config->linux().cgroup_parent();
  json spec = {
      {"ociVersion", "1.0.2"},
      {"process",
       {{"terminal", config.tty()},
        {"user", *user},
        {"args", *args},
        {"env", ContainerEnv(config, in.image_config, in.hostname)},
        {"cwd", cwd},
        {"capabilities", capabilities},
        {"noNewPrivileges", security.no_new_privs()},
        {"oomScoreAdj", std::max<int64_t>(resources.oom_score_adj(), in.min_oom_score_adj)}}},
      {"root", {{"path", in.rootfs}, {"readonly", readonly_root}}},
      {"hostname", in.hostname},
      {"mounts", mounts},
      {"annotations", {{"io.kubernetes.cri.container-type", "container"}, {"io.kubernetes.cri.sandbox-id", in.sandbox_id}}},
      {"linux",
       {{"namespaces", namespaces},
        {"cgroupsPath", crisp::StrCat(cgroup_parent, "/", in.id)},
        {"resources", linux_resources},
        {"maskedPaths", json(std::vector<std::string>(security.masked_paths().begin(), security.masked_paths().end()))},
        {"readonlyPaths", json(std::vector<std::string>(security.readonly_paths().begin(), security.readonly_paths().end()))}}}};
  if (*seccomp) spec["linux"]["seccomp"] = std::move(**seccomp);
  if (!rootfs_propagation.empty()) spec["linux"]["rootfsPropagation"] = rootfs_propagation;
  for (const auto& [key, value] : config.annotations()) spec["annotations"][key] = value;
  return spec;
}

}  // namespace crisp::crispd
