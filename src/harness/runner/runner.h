// Runner: runs scenarios against one runtime, serially or N at a time, and
// undoes what each one created, whatever happens.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "harness/client/cri_client.h"
#include "harness/runner/baseline.h"
#include "harness/runner/capabilities.h"
#include "harness/runner/result.h"
#include "harness/scenario/model.h"

namespace crisp::runner {

class SharedPool;

// The label every pod sandbox of a run carries, with the run's ID.
inline constexpr char kRunIdLabel[] = "crisp.run-id";
inline constexpr char kScenarioLabel[] = "crisp.scenario";

// Told about progress; called from worker threads, one call at a time.
class Progress {
 public:
  virtual ~Progress() = default;
  virtual void ScenarioStarted(const scenario::Scenario& scenario) = 0;
  virtual void StepStarted(const scenario::Scenario& scenario, const scenario::Step& step,
                           int index) = 0;
  virtual void ScenarioFinished(const ScenarioResult& result) = 0;
};

enum class FixtureScope { kScenario, kSuite, kRun };

struct RunOptions {
  int jobs = 1;
  std::string run_id;
  // Deadline of calls whose step names none and that are not slow by nature.
  absl::Duration call_timeout = client::kDefaultCallTimeout;
  Progress* progress = nullptr;  // may be null
  // Set (by a signal handler) to stop: running scenarios stop after their
  // current call, clean up, and the rest are not started.
  const std::atomic<bool>* cancel = nullptr;
  // What the runtime can do, for `requires:`. Null: Run() probes it.
  const Capabilities* capabilities = nullptr;
  // Known failures, applied as each scenario ends (so progress shows them).
  const Baseline* baseline = nullptr;
  // What a suite's shared steps make (`uses:`) serves the scenarios that
  // use it, one at a time: those of its suite (kSuite), or of any suite
  // whose shared step is the same call with the same request (kRun). With
  // kScenario every scenario makes its own, as if the steps were its own.
  FixtureScope fixture_scope = FixtureScope::kRun;
  // Scenario ID -> how long it took last time (--durations): the longest
  // start first, those not in it before them all.
  std::map<std::string, absl::Duration> durations;
  // After a scenario errors because the runtime stopped answering, the next
  // scenarios wait this long (from then) for it to answer again.
  absl::Duration reconnect_wait = absl::Seconds(30);
};

class Runner {
 public:
  Runner(client::CriClient& client, client::Endpoint endpoint, RunOptions options);

  // Runs the scenarios (in order when jobs is 1), then sweeps every sandbox
  // labelled with the run's ID. `version` is the runtime's VersionResponse.
  RunResult Run(const std::vector<const scenario::Scenario*>& scenarios,
                const nlohmann::json& version);

 private:
  ScenarioResult RunScenario(const scenario::Scenario& scenario, const nlohmann::json& version, SharedPool* pool);

  client::CriClient& client_;
  client::Endpoint endpoint_;
  RunOptions options_;
};

// A new run ID: UTC time and a random part, "20261129-0301-4f2a9c".
std::string NewRunId();

}  // namespace crisp::runner
