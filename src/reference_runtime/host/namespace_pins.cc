#include "reference_runtime/host/namespace_pins.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <thread>

#include "absl/status/status.h"
#include "common/strings.h"

namespace crisp::crispd {
namespace {

namespace fs = std::filesystem;

std::string Errno(const std::string& what) { return crisp::StrCat(what, ": ", std::strerror(errno)); }

absl::Status JoinNetns(const std::string& netns) {
  int fd = open(netns.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::InternalError(Errno("opening the network namespace " + netns));
  int joined = setns(fd, CLONE_NEWNET);
  int saved = errno;
  close(fd);
  errno = saved;
  if (joined != 0) return absl::InternalError(Errno("joining the network namespace " + netns));
  return absl::OkStatus();
}

// "net.ipv4.conf.eth0/100.forwarding" -> "/proc/sys/net/ipv4/conf/eth0.100/forwarding"
std::string SysctlPath(const std::string& key) {
  std::string path = "/proc/sys/";
  for (char c : key) path += c == '.' ? '/' : c == '/' ? '.' : c;
  return path;
}

absl::Status WriteSysctl(const std::string& key, const std::string& value) {
  std::string path = SysctlPath(key);
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return absl::InvalidArgumentError(Errno(crisp::StrCat("sysctl ", key, ": opening ", path)));
  ssize_t written = write(fd, value.data(), value.size());
  int saved = errno;
  close(fd);
  errno = saved;
  if (written != static_cast<ssize_t>(value.size())) {
    return absl::InvalidArgumentError(Errno(crisp::StrCat("sysctl ", key, ": writing \"", value, "\"")));
  }
  return absl::OkStatus();
}

// Runs on a thread of its own, which ends with it: the namespaces it
// unshares or joins are that thread's alone.
absl::Status PinOnThisThread(const NamespacePinner::Request& request, const std::map<std::string, std::string>& pins) {
  if (unshare(CLONE_NEWUTS | (request.ipc ? CLONE_NEWIPC : 0)) != 0) return absl::InternalError(Errno("unshare"));
  if (!request.hostname.empty() && sethostname(request.hostname.data(), request.hostname.size()) != 0) {
    return absl::InvalidArgumentError(Errno("setting the hostname \"" + request.hostname + "\""));
  }
  bool joined = false;
  for (const auto& [key, value] : request.sysctls) {
    if (key.starts_with("net.") && !joined) {
      if (absl::Status status = JoinNetns(request.netns); !status.ok()) return status;
      joined = true;
    }
    if (absl::Status status = WriteSysctl(key, value); !status.ok()) return status;
  }
  for (const auto& [type, path] : pins) {
    std::string source = "/proc/thread-self/ns/" + type;
    if (mount(source.c_str(), path.c_str(), nullptr, MS_BIND, nullptr) != 0) {
      return absl::InternalError(Errno(crisp::StrCat("pinning the ", type, " namespace on ", path)));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::map<std::string, std::string>> ThreadNamespacePinner::Pin(const Request& request) {
  std::map<std::string, std::string> pins;
  std::error_code error;
  fs::create_directories(request.dir + "/ns", error);
  if (error) return absl::InternalError(crisp::StrCat("creating ", request.dir, "/ns: ", error.message()));
  for (const char* type : {"uts", "ipc"}) {
    if (std::string(type) == "ipc" && !request.ipc) continue;
    std::string path = crisp::StrCat(request.dir, "/ns/", type);
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0444);  // a bind mount needs a file to cover
    if (fd < 0) return absl::InternalError(Errno("creating " + path));
    close(fd);
    pins[type] = path;
  }
  absl::Status status;
  std::thread([&] { status = PinOnThisThread(request, pins); }).join();
  for (const std::string& dir : CgroupDirs(request.cgroup)) {
    if (!status.ok()) break;
    fs::create_directories(dir, error);
    if (error) status = absl::InternalError(crisp::StrCat("creating the pod's cgroup ", dir, ": ", error.message()));
  }
  if (!status.ok()) {
    Unpin(request.dir, request.cgroup);
    return status;
  }
  return pins;
}

std::vector<std::string> ThreadNamespacePinner::CgroupDirs(const std::string& cgroup) const {
  std::vector<std::string> dirs;
  if (cgroup.empty()) return dirs;
  const std::string relative = cgroup.starts_with("/") ? cgroup.substr(1) : cgroup;
  std::error_code error;
  if (fs::exists(cgroup_root_ + "/cgroup.controllers", error)) return {cgroup_root_ + "/" + relative};  // v2
  // v1 (and hybrid): the hierarchies the pod's usage is read from; cpu and
  // cpuacct are often one hierarchy under two names.
  std::set<std::string> seen;
  for (const char* controller : {"cpu", "cpuacct", "memory", "pids", "unified"}) {
    fs::path base = fs::path(cgroup_root_) / controller;
    if (!fs::is_directory(base, error)) continue;
    if (!seen.insert(fs::canonical(base, error).string()).second) continue;
    dirs.push_back((base / relative).string());
  }
  return dirs;
}

void ThreadNamespacePinner::Unpin(const std::string& dir, const std::string& cgroup) {
  for (const std::string& path : CgroupDirs(cgroup)) rmdir(path.c_str());  // empty, or gone

  for (const char* type : {"uts", "ipc"}) {
    std::string path = crisp::StrCat(dir, "/ns/", type);
    umount2(path.c_str(), MNT_DETACH);  // not mounted (or gone) is fine
    unlink(path.c_str());
  }
  rmdir((dir + "/ns").c_str());
}

absl::StatusOr<std::string> ReadProcInNetns(const std::string& netns, const std::string& file) {
  absl::StatusOr<std::string> text = absl::InternalError("not read");
  std::thread([&] {
    if (absl::Status joined = JoinNetns(netns); !joined.ok()) {
      text = joined;
      return;
    }
    std::string path = "/proc/thread-self/" + file;
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      text = absl::InternalError(Errno("opening " + path));
      return;
    }
    std::string out;
    char buffer[4096];
    for (ssize_t n; (n = read(fd, buffer, sizeof(buffer))) > 0;) out.append(buffer, static_cast<size_t>(n));
    close(fd);
    text = std::move(out);
  }).join();
  return text;
}

}  // namespace crisp::crispd
