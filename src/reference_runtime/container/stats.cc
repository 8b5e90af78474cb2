#include "reference_runtime/container/stats.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "common/strings.h"

namespace crisp::crispd {
namespace {

namespace fs = std::filesystem;

std::optional<uint64_t> ReadNumber(const fs::path& path) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text) || text == "max") return std::nullopt;
  try {
    return std::stoull(text);
  } catch (...) {
    return std::nullopt;
  }
}

// "key value" lines (memory.stat, cpu.stat).
std::map<std::string, uint64_t> ReadKeyed(const fs::path& path) {
  std::map<std::string, uint64_t> values;
  std::ifstream in(path);
  std::string key;
  uint64_t value = 0;
  while (in >> key >> value) values[key] = value;
  return values;
}

std::optional<uint64_t> Get(const std::map<std::string, uint64_t>& values, const std::string& key) {
  auto found = values.find(key);
  if (found == values.end()) return std::nullopt;
  return found->second;
}

std::optional<uint64_t> WorkingSet(std::optional<uint64_t> usage, std::optional<uint64_t> inactive_file) {
  if (!usage) return std::nullopt;
  uint64_t inactive = inactive_file.value_or(0);
  return *usage > inactive ? *usage - inactive : 0;
}

}  // namespace

absl::StatusOr<CgroupUsage> ReadCgroupUsage(const std::string& cgroup_root, const std::string& cgroups_path) {
  const fs::path root(cgroup_root);
  const std::string relative = cgroups_path.starts_with("/") ? cgroups_path.substr(1) : cgroups_path;
  CgroupUsage usage;
  // cgroup v1: one hierarchy per controller.
  const fs::path memory = root / "memory" / relative;
  const fs::path cpuacct = root / "cpuacct" / relative;
  if (fs::exists(memory) || fs::exists(cpuacct)) {
    usage.cpu_usage_ns = ReadNumber(cpuacct / "cpuacct.usage");
    usage.memory_usage = ReadNumber(memory / "memory.usage_in_bytes");
    std::optional<uint64_t> limit = ReadNumber(memory / "memory.limit_in_bytes");
    if (limit && *limit < (uint64_t{1} << 62)) usage.memory_limit = limit;  // v1's "unlimited" is a huge number
    std::map<std::string, uint64_t> stat = ReadKeyed(memory / "memory.stat");
    usage.working_set = WorkingSet(usage.memory_usage, Get(stat, "total_inactive_file"));
    usage.rss = Get(stat, "total_rss");
    usage.page_faults = Get(stat, "total_pgfault");
    usage.major_page_faults = Get(stat, "total_pgmajfault");
    usage.process_count = ReadNumber(root / "pids" / relative / "pids.current");
    return usage;
  }
  // cgroup v2: one unified hierarchy, at the root or (hybrid) at unified/.
  for (const fs::path& base : {root / relative, root / "unified" / relative}) {
    if (!fs::exists(base / "cgroup.procs")) continue;
    std::map<std::string, uint64_t> cpu = ReadKeyed(base / "cpu.stat");
    if (std::optional<uint64_t> usec = Get(cpu, "usage_usec")) usage.cpu_usage_ns = *usec * 1000;
    usage.memory_usage = ReadNumber(base / "memory.current");
    usage.memory_limit = ReadNumber(base / "memory.max");
    std::map<std::string, uint64_t> stat = ReadKeyed(base / "memory.stat");
    usage.working_set = WorkingSet(usage.memory_usage, Get(stat, "inactive_file"));
    usage.rss = Get(stat, "anon");
    usage.page_faults = Get(stat, "pgfault");
    usage.major_page_faults = Get(stat, "pgmajfault");
    usage.process_count = ReadNumber(base / "pids.current");
    return usage;
  }
  return absl::NotFoundError(crisp::StrCat("no cgroup ", cgroups_path, " under ", cgroup_root));
}

CgroupUsage Sum(const std::vector<CgroupUsage>& parts) {
  CgroupUsage total;
  auto add = [](std::optional<uint64_t>& into, const std::optional<uint64_t>& part) {
    if (part) into = into.value_or(0) + *part;
  };
  for (const CgroupUsage& part : parts) {
    add(total.cpu_usage_ns, part.cpu_usage_ns);
    add(total.memory_usage, part.memory_usage);
    add(total.working_set, part.working_set);
    add(total.rss, part.rss);
    add(total.page_faults, part.page_faults);
    add(total.major_page_faults, part.major_page_faults);
    add(total.process_count, part.process_count);
  }
  return total;  // no limit: a pod's parts each have their own
}

std::vector<InterfaceUsage> ReadNetDev(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return ParseNetDev(text.str());
}

std::vector<InterfaceUsage> ParseNetDev(const std::string& text) {
  std::vector<InterfaceUsage> interfaces;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;  // the two header lines
    InterfaceUsage usage;
    std::istringstream name(line.substr(0, colon));
    name >> usage.name;
    if (usage.name.empty() || usage.name == "lo") continue;
    // rx: bytes packets errs drop fifo frame compressed multicast; tx: bytes packets errs ...
    std::istringstream fields(line.substr(colon + 1));
    uint64_t values[16] = {};
    for (uint64_t& value : values) fields >> value;
    usage.rx_bytes = values[0];
    usage.rx_errors = values[2];
    usage.tx_bytes = values[8];
    usage.tx_errors = values[10];
    interfaces.push_back(usage);
  }
  return interfaces;
}

DiskUsage DirectoryUsage(const std::string& dir) {
  DiskUsage usage;
  std::set<std::pair<dev_t, ino_t>> seen;
  std::error_code error;
  auto count = [&](const fs::path& path) {
    struct stat info {};
    if (lstat(path.c_str(), &info) != 0) return;
    if (!seen.insert({info.st_dev, info.st_ino}).second) return;  // a hard link counted already
    ++usage.inodes;
    usage.bytes += static_cast<uint64_t>(info.st_blocks) * 512;
  };
  if (!fs::exists(dir, error)) return usage;
  count(dir);
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, error);
       !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
    count(it->path());
  }
  return usage;
}

std::optional<uint64_t> NanoCores(uint64_t previous_usage_ns, int64_t previous_at_ns, uint64_t usage_ns,
                                  int64_t at_ns) {
  if (at_ns <= previous_at_ns || usage_ns < previous_usage_ns) return std::nullopt;
  long double rate = static_cast<long double>(usage_ns - previous_usage_ns) * 1e9L /
                     static_cast<long double>(at_ns - previous_at_ns);
  return static_cast<uint64_t>(rate);
}

}  // namespace crisp::crispd
