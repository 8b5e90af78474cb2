#include "harness/bench/process_meter.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>

#include "common/strings.h"

namespace crisp::bench {
namespace {

// A /proc file's text; "" when the process is gone (reading a file of a
// process that just exited fails with ESRCH, which std::ifstream turns
// into an exception).
std::string ReadProcFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  std::string text;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof buffer)) > 0) text.append(buffer, static_cast<size_t>(n));
  close(fd);
  return n < 0 ? "" : text;
}

struct Stat {
  int ppid = 0;
  double cpu = 0;           // utime + stime, seconds
  double children_cpu = 0;  // cutime + cstime, seconds
  long rss_kib = 0;
};

// /proc/PID/stat; false if the process is gone.
bool ReadStat(int pid, Stat* stat) {
  const std::string text = ReadProcFile(crisp::StrCat("/proc/", pid, "/stat"));
  size_t end = text.rfind(')');  // the command may hold spaces and parentheses
  if (end == std::string::npos || end + 2 > text.size()) return false;
  std::istringstream fields(text.substr(end + 2));
  std::vector<std::string> f;
  for (std::string field; fields >> field;) f.push_back(field);
  if (f.size() < 22) return false;
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  auto number = [&](size_t i) { return std::strtod(f[i].c_str(), nullptr); };
  // f[0] is field 3 (state): ppid 4, utime 14, stime 15, cutime 16, cstime 17, rss 24.
  stat->ppid = static_cast<int>(number(1));
  stat->cpu = (number(11) + number(12)) / tick;
  stat->children_cpu = (number(13) + number(14)) / tick;
  stat->rss_kib = static_cast<long>(number(21)) * (sysconf(_SC_PAGESIZE) / 1024);
  return true;
}

std::string CommandLine(int pid) {
  std::string text = ReadProcFile(crisp::StrCat("/proc/", pid, "/cmdline"));
  for (char& c : text) if (c == '\0') c = ' ';
  return text;
}

long VmHwm(int pid) {
  std::istringstream in(ReadProcFile(crisp::StrCat("/proc/", pid, "/status")));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmHWM:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return 0;
}

}  // namespace

absl::StatusOr<int> SocketServerPid(const std::string& socket_path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof address.sun_path) return absl::InvalidArgumentError("socket path too long");
  std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    std::string why = std::strerror(errno);
    if (fd >= 0) close(fd);
    return absl::UnavailableError(crisp::StrCat("cannot connect to ", socket_path, ": ", why));
  }
  ucred credentials{};
  socklen_t size = sizeof credentials;
  const int rc = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &size);
  close(fd);
  if (rc != 0 || credentials.pid <= 0) return absl::UnavailableError("the socket's peer has no PID (SO_PEERCRED)");
  return static_cast<int>(credentials.pid);
}

nlohmann::json ProcessCost::ToJson() const {
  return {{"cpu_seconds", std::round(cpu_seconds * 100) / 100},
          {"peak_rss_kib", peak_rss_kib},
          {"server_peak_rss_kib", server_peak_rss_kib},
          {"processes", processes}};
}

ProcessMeter::ProcessMeter(int server_pid, std::string socket_path)
    : server_pid_(server_pid), socket_path_(std::move(socket_path)) {
  Stat server;
  if (ReadStat(server_pid_, &server)) server_children_start_ = server_children_last_ = server.children_cpu;
  Sample();
  started_ = true;
  thread_ = std::thread([this] { Loop(); });
}

ProcessMeter::~ProcessMeter() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void ProcessMeter::Loop() {
  while (!stop_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    Sample();
  }
}

void ProcessMeter::Sample() {
  std::map<int, Stat> all;
  std::error_code error;
  for (std::filesystem::directory_iterator it("/proc", error), end; !error && it != end; it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const int pid = static_cast<int>(std::strtol(name.c_str(), nullptr, 10));
    Stat stat;
    if (ReadStat(pid, &stat)) all[pid] = stat;
  }
  // The server, its descendants, and what names its socket.
  std::set<int> counted = {server_pid_};
  bool grew = true;
  while (grew) {
    grew = false;
    for (const auto& [pid, stat] : all) {
      if (!counted.count(pid) && counted.count(stat.ppid)) grew = counted.insert(pid).second || grew;
    }
  }
  for (const auto& [pid, stat] : all) {
    if (!counted.count(pid) && CommandLine(pid).find(socket_path_) != std::string::npos) {
      counted.insert(pid);
      for (const auto& [child, child_stat] : all) {
        if (child_stat.ppid == pid) counted.insert(child);
      }
    }
  }
  long rss = 0;
  std::lock_guard lock(mutex_);
  for (int pid : counted) {
    auto found = all.find(pid);
    if (found == all.end()) continue;
    rss += found->second.rss_kib;
    // A process born since the start counts from nothing.
    first_cpu_.emplace(pid, started_ ? 0.0 : found->second.cpu);
    last_cpu_[pid] = found->second.cpu;
    if (pid == server_pid_) server_children_last_ = found->second.children_cpu;
  }
  peak_rss_kib_ = std::max(peak_rss_kib_, rss);
}

ProcessCost ProcessMeter::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  Sample();
  std::lock_guard lock(mutex_);
  ProcessCost cost;
  for (const auto& [pid, last] : last_cpu_) cost.cpu_seconds += last - first_cpu_[pid];
  // What the server reaped (runc, conmon or plugins it waited for).
  cost.cpu_seconds += server_children_last_ - server_children_start_;
  cost.peak_rss_kib = peak_rss_kib_;
  cost.server_peak_rss_kib = VmHwm(server_pid_);
  cost.processes = static_cast<int>(last_cpu_.size());
  return cost;
}

}  // namespace crisp::bench
