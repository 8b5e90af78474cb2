#include "reference_runtime/reset/reset.h"

#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/strings.h"
#include "common/subprocess.h"
#include "nlohmann/json.hpp"
#include "reference_runtime/host/namespace_pins.h"
#include "reference_runtime/host/real_host.h"
#include "reference_runtime/sandbox/infra_spec.h"
#include "reference_runtime/state/atomic_file.h"
#include "reference_runtime/state/records.h"
#include "reference_runtime/host/process.h"

namespace crisp::crispd {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

bool Under(const std::string& path, const std::string& dir) {
  return !dir.empty() && (path == dir || path.starts_with(dir + "/"));
}

// Processes whose command line names a path under `dirs` (conmon names its
// bundle): opened by pidfd first, so the check and the kill are one process.
void KillMonitors(const std::vector<std::string>& dirs, ResetReport& report) {
  std::error_code error;
  for (const auto& entry : fs::directory_iterator("/proc", error)) {
    std::string name = entry.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    pid_t pid = std::stoi(name);
    if (pid == getpid()) continue;
    absl::StatusOr<AdoptedProcess> process = AdoptedProcess::Open(pid);
    if (!process.ok()) continue;
    std::string cmdline = ReadFile((entry.path() / "cmdline").string()).value_or("");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    bool ours = std::any_of(dirs.begin(), dirs.end(), [&](const std::string& dir) {
      return cmdline.find(" " + dir + "/") != std::string::npos;
    });
    if (!ours) continue;
    if (process->Signal(SIGKILL)) {
      report.removed.push_back(crisp::StrCat("killed process ", pid, ": ", cmdline.substr(0, 120)));
    }
  }
}

void DeleteOciContainers(const std::string& state, ResetReport& report) {
  RuncRuntime runtime(state);
  std::error_code error;
  for (const auto& root : fs::directory_iterator(fs::path(state) / "oci", error)) {
    std::string name = root.path().filename().string();
    if (absl::Status known = runtime.Check(name); !known.ok()) {
      report.errors.push_back(crisp::StrCat("state of OCI runtime ", name, " left in ", root.path().string(), ": ",
                                            known.message()));
      continue;
    }
    absl::StatusOr<std::vector<std::string>> ids = runtime.List(name);
    if (!ids.ok()) {
      report.errors.push_back(std::string(ids.status().message()));
      continue;
    }
    for (const std::string& id : *ids) {
      if (absl::Status deleted = runtime.Delete(name, id); deleted.ok()) {
        report.removed.push_back(crisp::StrCat("deleted ", name, " container ", id));
      } else {
        report.errors.push_back(std::string(deleted.message()));
      }
    }
  }
}

void TearDownNetworks(const ResetOptions& options, ResetReport& report) {
  CniPodNetwork network(options.cni);
  std::error_code error;
  for (const auto& dir : fs::directory_iterator(fs::path(options.state) / "sandboxes", error)) {
    ::crispd::state::v1::SandboxRecord record;
    if (absl::Status read = ReadRecord((dir.path() / "sandbox.json").string(), &record); !read.ok()) {
      // Without a record it had no network yet; a corrupt one names none we could trust.
      if (!absl::IsNotFound(read)) report.errors.push_back(std::string(read.message()));
      continue;
    }
    const std::string& id = record.id();
    const std::string& netns = record.netns();
    if (netns.empty()) continue;
    bool existed = fs::exists(netns);
    if (absl::Status released = network.Teardown(id, netns, CniPortMappings(record)); !released.ok()) {
      report.errors.push_back(crisp::StrCat("the network of sandbox ", id, ": ", released.message()));
      continue;
    }
    report.removed.push_back(crisp::StrCat("released the network of sandbox ", id));
    if (existed) report.removed.push_back("deleted network namespace " + fs::path(netns).filename().string());
  }
}

// Pods without an infra process: their pinned namespaces and own cgroup.
void ReleasePins(const ResetOptions& options, ResetReport& report) {
  ThreadNamespacePinner pinner;
  std::error_code error;
  for (const auto& dir : fs::directory_iterator(fs::path(options.state) / "sandboxes", error)) {
    ::crispd::state::v1::SandboxRecord record;
    if (!ReadRecord((dir.path() / "sandbox.json").string(), &record).ok()) continue;  // said by TearDownNetworks
    // Pinned, or of the kind that is (its pins may predate the record).
    const bool pinned = !record.pinned_namespaces().empty() ||
                        record.config().linux().security_context().namespace_options().pid() != runtime::v1::POD;
    if (!pinned) continue;
    pinner.Unpin(dir.path().string(), InfraCgroup(record.config(), record.id()));
    report.removed.push_back(crisp::StrCat("released the namespaces and cgroup of sandbox ", record.id()));
  }
}

void Unmount(const std::vector<std::string>& dirs, ResetReport& report) {
  std::ifstream mounts("/proc/self/mountinfo");
  std::vector<std::string> points;
  std::string line;
  while (std::getline(mounts, line)) {
    std::istringstream fields(line);
    std::string skip, point;
    for (int i = 0; i < 4; ++i) fields >> skip;
    fields >> point;
    if (std::any_of(dirs.begin(), dirs.end(), [&](const std::string& dir) { return Under(point, dir) && point != dir; })) {
      points.push_back(point);
    }
  }
  std::sort(points.rbegin(), points.rend());  // the deepest first
  for (const std::string& point : points) {
    if (umount2(point.c_str(), MNT_DETACH) == 0) {
      report.removed.push_back("unmounted " + point);
    } else if (errno != EINVAL && errno != ENOENT) {  // gone with a parent already
      report.errors.push_back(crisp::StrCat("umount ", point, ": ", std::strerror(errno)));
    }
  }
}

void RemoveRecords(const std::string& state, ResetReport& report) {
  for (const char* sub : {"containers", "sandboxes", "oci", "ipam", "attach", "quarantine", "console"}) {
    fs::path path = fs::path(state) / sub;
    std::error_code error;
    if (!fs::exists(path, error)) continue;
    fs::remove_all(path, error);
    if (error) {
      report.errors.push_back(crisp::StrCat("removing ", path.string(), ": ", error.message()));
    } else {
      report.removed.push_back("removed " + path.string());
    }
  }
}

}  // namespace

ResetReport Reset(const ResetOptions& options) {
  ResetReport report;
  std::error_code error;
  std::vector<std::string> dirs;
  for (const std::string& dir : {options.root, options.state}) {
    if (dir.empty()) continue;
    dirs.push_back(fs::weakly_canonical(dir, error).string());
  }
  KillMonitors(dirs, report);
  DeleteOciContainers(options.state, report);
  TearDownNetworks(options, report);
  ReleasePins(options, report);
  Unmount(dirs, report);
  RemoveRecords(options.state, report);
  if (options.remove_bridge && !options.cni.bridge.empty() &&
      fs::exists(fs::path("/sys/class/net") / options.cni.bridge)) {
    absl::StatusOr<ProcessResult> removed = RunProcess({"/usr/sbin/ip", "link", "del", options.cni.bridge});
    if (removed.ok() && removed->exit_code == 0) {
      report.removed.push_back("deleted bridge " + options.cni.bridge);
    } else {
      report.errors.push_back(crisp::StrCat("ip link del ", options.cni.bridge, ": ",
                                            removed.ok() ? removed->stderr_text : std::string(removed.status().message())));
    }
  }
  return report;
}

}  // namespace crisp::crispd
