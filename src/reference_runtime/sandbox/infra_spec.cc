#include "reference_runtime/sandbox/infra_spec.h"

#include "common/strings.h"
#include "reference_runtime/sandbox/oci_defaults.h"

namespace crisp::crispd {

namespace v1 = runtime::v1;
using nlohmann::json;

json InfraSpec(const v1::PodSandboxConfig& config, const std::string& netns, const std::string& shm,
               const std::string& id, int oom_score_adj) {
  const auto& namespaces = config.linux().security_context().namespace_options();
  json linux_namespaces = json::array({{{"type", "mount"}}, {{"type", "uts"}}});
  if (namespaces.ipc() != v1::NODE) linux_namespaces.push_back({{"type", "ipc"}});
  if (namespaces.pid() != v1::NODE) linux_namespaces.push_back({{"type", "pid"}});
  if (!netns.empty()) linux_namespaces.push_back({{"type", "network"}, {"path", netns}});
  json mounts = BaseMounts(/*writable_sys=*/false);
  if (!shm.empty()) {
    mounts.push_back({{"destination", "/dev/shm"}, {"type", "bind"}, {"source", shm}, {"options", {"rbind", "rw"}}});
  }
  std::string cgroup_parent = config.linux().cgroup_parent().empty() ? "/crispd" : config.linux().cgroup_parent();
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
            {"cgroupsPath", crisp::StrCat(cgroup_parent, "/", id)},
            {"resources", {{"devices", {{{"allow", false}, {"access", "rwm"}}}}}},
            {"maskedPaths", {"/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"}},
            {"readonlyPaths", {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}}}}};
}

}  // namespace crisp::crispd
