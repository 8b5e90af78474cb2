// The density workload of crisp bench: pods with one running container
// each, started `batch` at a time up to `pods`, on each runtime in turn (a
// batch on one, then a batch on the next), each RPC's latency recorded per
// batch, so the report shows how it grows with the count; then every pod
// is removed. The pods carry crisp.io/bench=density and crisp.run-id, so
// `crisp clean -l crisp.io/bench=density` removes what an interruption
// left.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "harness/bench/bench.h"
#include "nlohmann/json.hpp"

namespace crisp::bench {

struct DensityOptions {
  int pods = 100;
  int batch = 10;
  std::string image = "busybox:latest";
  absl::Duration call_timeout = absl::Minutes(2);
  const std::atomic<bool>* cancel = nullptr;
  std::function<void(const std::string&)> progress;
};

// {"pods", "batch", "runtimes": {name: {"batches": [{"pods": N, "rpcs":
// {RPC: stats}}], "errors", "removed"}}}
nlohmann::json RunDensity(const std::vector<Target>& targets, const DensityOptions& options);

// The Markdown table: per batch, each runtime's p50 of each RPC.
std::string DensityMarkdown(const nlohmann::json& density);

// Pods with one running container each, kept on every runtime while other
// workloads are measured (crisp bench --population): made like density's,
// `batch` at a time, not measured; labelled crisp.io/bench=population;
// removed by RemoveAll (or when it goes).
class PodPopulation {
 public:
  PodPopulation(const std::vector<Target>& targets, DensityOptions options);
  ~PodPopulation();
  PodPopulation(const PodPopulation&) = delete;
  PodPopulation& operator=(const PodPopulation&) = delete;

  // Starts pods on each runtime until it has `pods` of them.
  void GrowTo(int pods);
  // {name: {"pods": N, "errors": N, "error_messages": [...]}}
  nlohmann::json Present() const;
  // Every pod stopped and removed; {name: removed}.
  nlohmann::json RemoveAll();

 private:
  struct State;
  std::vector<std::unique_ptr<State>> runtimes_;
  DensityOptions options_;
  int next_index_ = 0;
};

}  // namespace crisp::bench
