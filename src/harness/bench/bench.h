// crisp bench: the same workloads on several runtimes, interleaved, timed
// per RPC. A workload is a scenario (the step language of the suites): one
// iteration runs it once, cleanup included, on one runtime. Iterations go
// round-robin over the runtimes, the first runtime rotating each time, so
// that the machine's noise falls on all of them alike; the order is kept.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <vector>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "harness/client/cri_client.h"
#include "harness/client/endpoint.h"
#include "harness/scenario/model.h"
#include "nlohmann/json.hpp"

namespace crisp::bench {

inline constexpr char kBenchSchema[] = "crisp.bench/v1";

struct Target {
  client::Endpoint endpoint;  // a unix socket: its server's processes are measured too
  client::CriClient* client = nullptr;
  nlohmann::json version;  // the VersionResponse
};

struct BenchOptions {
  int iterations = 20;   // measured, per workload and runtime
  int warmup = 1;        // run first, not measured
  // Copies of a workload in flight at once; 1 gives "results", each other
  // level "concurrency": {"N": {"order", "results"}} (ops/s counts copies).
  std::vector<int> concurrency = {1};
  // Each workload measured again with this many pods (each with a running
  // container) present on every runtime, level by level, ascending:
  // "population": {"N": {"order", "results", "present"}}. The pods are made
  // 10 at a time, not measured, and removed at the end.
  std::vector<int> population;
  absl::Duration call_timeout = absl::Seconds(10);
  const std::atomic<bool>* cancel = nullptr;
  // "workload i/n runtime", as each iteration starts.
  std::function<void(const std::string&)> progress;
};

// The bench document (schema kBenchSchema; docs/results-schema.md).
nlohmann::json RunBench(const std::vector<Target>& targets, const std::vector<const scenario::Scenario*>& workloads,
                        const BenchOptions& options);

// crisp's own cost per call: `calls` Version calls to the first target
// through crisp's recording client and as many through a plain generated
// stub on its own channel, alternating; {"calls", "raw_p50_us",
// "crisp_p50_us", "overhead_p50_us"}.
nlohmann::json ClientOverhead(const Target& target, int calls);

// bench.md: per workload, each RPC's p50 and p99 per runtime, with the
// ratio to the first runtime; errors counted.
std::string BenchMarkdown(const nlohmann::json& bench);

// crisp diff of two bench.json: for each workload, runtime and RPC (and the
// whole iteration) present in both, a regression when p50 or p99 grew by
// more than `threshold` (0.2: 20%) and the later samples are larger with
// one-sided Mann-Whitney p < 0.05. Lines of text, regressions first.
struct BenchDiff {
  std::vector<std::string> regressions;
  std::vector<std::string> improvements;  // the same test the other way
  std::vector<std::string> notes;         // what could not be compared
  std::string ToText() const;
};
absl::StatusOr<BenchDiff> CompareBench(const nlohmann::json& earlier, const nlohmann::json& later, double threshold);

// One iteration's samples, by RPC (the step's method, or its name for
// other steps): latency in ms, and whether the step failed. Exposed for
// tests.
struct IterationSamples {
  std::map<std::string, std::vector<double>> latency_ms;
  std::map<std::string, int> errors;
  bool failed = false;  // the scenario did not pass
};
IterationSamples SamplesOf(const nlohmann::json& scenario_result);

}  // namespace crisp::bench
