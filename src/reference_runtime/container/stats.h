// A container's resource usage, read from its cgroup (v1 controllers or
// the v2 unified hierarchy, whichever holds it) and its writable layer.
// The cgroup root is a parameter so tests can give a tree of their own.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace crisp::crispd {

struct CgroupUsage {
  std::optional<uint64_t> cpu_usage_ns;       // cumulative CPU time
  std::optional<uint64_t> memory_usage;       // bytes, page cache included
  std::optional<uint64_t> memory_limit;       // bytes; none when unlimited
  std::optional<uint64_t> working_set;        // usage minus inactive file pages, as the kubelet computes it
  std::optional<uint64_t> rss;
  std::optional<uint64_t> page_faults;
  std::optional<uint64_t> major_page_faults;
  std::optional<uint64_t> process_count;      // from the pids controller
};

// Field by field sum (a pod: its infra's cgroup and its containers');
// a figure is there when any part has it.
CgroupUsage Sum(const std::vector<CgroupUsage>& parts);

struct InterfaceUsage {
  std::string name;
  uint64_t rx_bytes = 0, rx_errors = 0, tx_bytes = 0, tx_errors = 0;
};

// A /proc/<pid>/net/dev: every interface but lo, in file order.
std::vector<InterfaceUsage> ReadNetDev(const std::string& path);
std::vector<InterfaceUsage> ParseNetDev(const std::string& text);  // the text of /proc/<pid>/net/dev

// `cgroup_root` is where the hierarchies are mounted (/sys/fs/cgroup);
// `cgroups_path` is the container's (as in its OCI spec). NotFound when no
// hierarchy has it.
absl::StatusOr<CgroupUsage> ReadCgroupUsage(const std::string& cgroup_root, const std::string& cgroups_path);

struct DiskUsage {
  uint64_t bytes = 0;   // allocated (what du counts), not apparent size
  uint64_t inodes = 0;
};

// Everything under `dir`, not following symlinks, each inode once.
DiskUsage DirectoryUsage(const std::string& dir);

// CPU use in nanocores between two samples (cumulative ns at monotonic ns).
std::optional<uint64_t> NanoCores(uint64_t previous_usage_ns, int64_t previous_at_ns, uint64_t usage_ns,
                                  int64_t at_ns);

}  // namespace crisp::crispd
