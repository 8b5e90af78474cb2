#include "reference_runtime/sandbox/infra_spec.h"

#include <algorithm>

#include "common/strings.h"
#include "reference_runtime/sandbox/oci_defaults.h"

namespace crisp::crispd {

namespace v1 = runtime::v1;
using nlohmann::json;

namespace {

constexpr const char* kIpcSysctls[] = {"kernel.sem",    "kernel.shmall", "kernel.shmmax",          "kernel.shmmni",
                                       "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni",          "kernel.shm_rmid_forced"};

bool KeyCharacter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
         c == '.' || c == '/';
}

// "net/ipv4/conf/eth0.100/forwarding" -> "net.ipv4.conf.eth0/100.forwarding":
// in slash form a dot belongs to a name, as the kernel's /proc/sys path has it.
std::string Dotted(const std::string& key) {
  size_t first = key.find_first_of("./");
  if (first == std::string::npos || key[first] == '.') return key;
  std::string out = key;
  for (char& c : out) c = c == '/' ? '.' : c == '.' ? '/' : c;
  return out;
}

}  // namespace

absl::StatusOr<std::map<std::string, std::string>> PodSysctls(const v1::PodSandboxConfig& config) {
  const auto& namespaces = config.linux().security_context().namespace_options();
  std::map<std::string, std::string> out;
  for (const auto& [raw_key, value] : config.linux().sysctls()) {
    if (raw_key.empty() || !std::all_of(raw_key.begin(), raw_key.end(), KeyCharacter) ||
        raw_key.find("..") != std::string::npos || raw_key.front() == '.' || raw_key.front() == '/') {
      return absl::InvalidArgumentError(crisp::StrCat("sysctl \"", raw_key, "\" is not a sysctl name"));
    }
    if (value.find_first_of(std::string("\n\0", 2)) != std::string::npos) {
      return absl::InvalidArgumentError(crisp::StrCat("sysctl ", raw_key, ": the value has a newline or NUL"));
    }
    std::string key = Dotted(raw_key);
    bool ipc = key.starts_with("fs.mqueue.") ||
               std::find(std::begin(kIpcSysctls), std::end(kIpcSysctls), key) != std::end(kIpcSysctls);
    if (ipc && namespaces.ipc() == v1::NODE) {
      return absl::InvalidArgumentError(
          crisp::StrCat("sysctl ", key, " is in the IPC namespace, and the pod shares the node's"));
    }
    if (key.starts_with("net.") && namespaces.network() == v1::NODE) {
      return absl::InvalidArgumentError(
          crisp::StrCat("sysctl ", key, " is in the network namespace, and the pod shares the node's"));
    }
    if (!ipc && !key.starts_with("net.") && key != "kernel.hostname" && key != "kernel.domainname") {
      return absl::InvalidArgumentError(
          crisp::StrCat("sysctl ", key, " is not namespaced: setting it would change the node"));
    }
    out[key] = value;
  }
  return out;
}

std::string InfraCgroup(const v1::PodSandboxConfig& config, const std::string& sandbox_id) {
  const std::string& parent = config.linux().cgroup_parent();
  return crisp::StrCat(parent.empty() ? "/crispd" : parent, "/", sandbox_id);
}

json InfraSpec(const v1::PodSandboxConfig& config, const std::string& netns, const std::string& shm,
               const std::string& id, int oom_score_adj, const std::map<std::string, std::string>& sysctls) {
  const auto& namespaces = config.linux().security_context().namespace_options();
  json linux_namespaces = json::array({{{"type", "mount"}}, {{"type", "uts"}}});
  if (namespaces.ipc() != v1::NODE) linux_namespaces.push_back({{"type", "ipc"}});
  if (namespaces.pid() != v1::NODE) linux_namespaces.push_back({{"type", "pid"}});
  if (!netns.empty()) linux_namespaces.push_back({{"type", "network"}, {"path", netns}});
  json mounts = BaseMounts(/*writable_sys=*/false);
  if (!shm.empty()) {
    mounts.push_back({{"destination", "/dev/shm"}, {"type", "bind"}, {"source", shm}, {"options", {"rbind", "rw"}}});
  }
  return {{"ociVersion", "1.0.2"},
          {"process",
           {{"terminal", false},
            {"user", {{"uid", 65535}, {"gid", 65535}}},
            {"args", {"/pause"}},
            {"env", {"PATH=/"}},
            {"cwd", "/"},
            {"capabilities", {{"bounding", json::array()}, {"effective", json::array()},
                              {"permitted", json::array()}}},
            {"noNewPrivileges", true},
            {"oomScoreAdj", oom_score_adj}}},
          {"root", {{"path", "rootfs"}, {"readonly", true}}},
          {"hostname", config.hostname()},
          {"mounts", mounts},
          {"linux",
           {{"namespaces", linux_namespaces},
            {"cgroupsPath", InfraCgroup(config, id)},
            {"resources", {{"devices", {{{"allow", false}, {"access", "rwm"}}}}}},
            {"sysctl", sysctls},
            {"maskedPaths", {"/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"}},
            {"readonlyPaths", {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}}}}};
}

}  // namespace crisp::crispd
