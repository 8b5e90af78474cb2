// The real NamespacePinner, and reading a file of /proc as a process in a
// given network namespace sees it. Both work from a short-lived thread of
// crispd's own, which unshares or joins namespaces for itself alone (a
// thread's UTS, IPC and network namespaces are its own), so no process is
// created and crispd's other threads are untouched.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "reference_runtime/host/seams.h"

namespace crisp::crispd {

class ThreadNamespacePinner : public NamespacePinner {
 public:
  explicit ThreadNamespacePinner(std::string cgroup_root = "/sys/fs/cgroup") : cgroup_root_(std::move(cgroup_root)) {}
  absl::StatusOr<std::map<std::string, std::string>> Pin(const Request& request) override;
  void Unpin(const std::string& dir, const std::string& cgroup) override;

 private:
  // The pod cgroup's directory in each hierarchy that has one to make.
  std::vector<std::string> CgroupDirs(const std::string& cgroup) const;
  std::string cgroup_root_;
};

// The text of /proc/thread-self/<file> (e.g. "net/dev") as seen from the
// network namespace bound at `netns`.
absl::StatusOr<std::string> ReadProcInNetns(const std::string& netns, const std::string& file);

}  // namespace crisp::crispd
