// What a runtime costs its host while a workload runs: CPU time and peak
// resident memory of its process tree. The server process is the one
// holding the other end of its unix socket (SO_PEERCRED); the tree is that
// process, its descendants, and processes whose command line names the
// socket (containerd's shims, which leave the tree when they daemonize).
// Sampled every 100 ms: the CPU of a process that starts and ends between
// two samples is counted only if the server reaped it (its children's
// times); processes that leave for init are counted while seen.
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace crisp::bench {

// The PID of the process serving a unix socket (an absolute path).
absl::StatusOr<int> SocketServerPid(const std::string& socket_path);

struct ProcessCost {
  double cpu_seconds = 0;       // user + system, over the processes counted
  long peak_rss_kib = 0;        // the largest sum of RSS seen in one sample
  long server_peak_rss_kib = 0; // the server alone: its VmHWM at the end
  int processes = 0;            // distinct PIDs counted
  nlohmann::json ToJson() const;
};

class ProcessMeter {
 public:
  ProcessMeter(int server_pid, std::string socket_path);
  ~ProcessMeter();
  ProcessMeter(const ProcessMeter&) = delete;
  ProcessMeter& operator=(const ProcessMeter&) = delete;
  // Stops sampling and returns the cost since construction.
  ProcessCost Stop();

 private:
  void Sample();
  void Loop();

  const int server_pid_;
  const std::string socket_path_;
  std::mutex mutex_;
  std::map<int, double> first_cpu_;  // pid -> CPU seconds when first seen
  std::map<int, double> last_cpu_;   // pid -> CPU seconds when last seen
  double server_children_start_ = 0;
  double server_children_last_ = 0;
  long peak_rss_kib_ = 0;
  bool started_ = false;  // past the first sample
  std::atomic<bool> stop_ = false;
  std::thread thread_;
};

}  // namespace crisp::bench
