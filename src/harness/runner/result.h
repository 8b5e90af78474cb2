// What a run found: verdicts per scenario and step, with every observation.
// Reports (JUnit, results.json, the console summary) are written from this.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "harness/client/endpoint.h"
#include "nlohmann/json.hpp"

namespace crisp::runner {

enum class Verdict {
  kPass,   // every expectation held
  kFail,   // the runtime broke an expectation
  kError,  // the harness or the environment failed (unreachable runtime, bad input, timeout)
  kSkip,   // crisp itself cannot run it here (requires root); the reason says why
  kNotApplicable,  // the runtime or its host lacks what the scenario requires, or
                   // answers UNIMPLEMENTED where the scenario allows that
  kKnown,  // failed or errored, and a baseline lists it as a known failure
};

// "pass", "fail", "error", "skip", "na", "known"
std::string_view VerdictName(Verdict verdict);

// Whether a run with this verdict in it has failed.
inline bool IsFailure(Verdict verdict) { return verdict == Verdict::kFail || verdict == Verdict::kError; }

// A baseline entry that names a scenario on a runtime.
struct BaselineMatch {
  std::string reason;
  std::string link;
  Verdict actual = Verdict::kPass;  // what the scenario did
  bool intermittent = false;        // the entry names a race: a pass is no fix
};

struct StepResult {
  int index = 0;        // 1-based
  std::string name;
  std::string kind;     // "call" or "log"
  std::string method;   // the RPC, for calls
  Verdict verdict = Verdict::kPass;
  std::string message;  // why, when not pass: expected versus actual
  int attempts = 0;
  absl::Duration duration;
  // One per attempt: {"request", "code", "code_name", "message",
  // "response", "latency_ns", "start"} for calls; {"path", "log"} for logs.
  std::vector<nlohmann::json> observations;
};

struct ScenarioResult {
  std::string id;
  std::string title;
  std::string suite;
  std::string file;
  std::vector<std::string> tags;
  std::string spec_ref;
  Verdict verdict = Verdict::kPass;
  std::string reason;  // for fail, error and skip: the step and what happened
  absl::Time start;
  absl::Duration duration;
  std::vector<StepResult> steps;
  // What cleanup did, one line each; failures say so.
  std::vector<std::string> cleanup;
  // What cleanup learnt about the runtime without failing the scenario: a
  // removal answered with an error for something its status call showed
  // gone. Free of IDs, so runtimes compare.
  std::vector<std::string> findings;
  // Values that differ from run to run by design (the run ID, the name
  // suffix, host ports picked free), each with the symbol that stands for it
  // when runs are compared.
  std::map<std::string, std::string> substitutions;
  std::optional<BaselineMatch> baseline;

  // A baseline entry this scenario no longer needs: it passed, and the
  // entry is not for a race that merely did not happen this time ("fixed:
  // remove it from the baseline").
  bool IsStale() const { return baseline && verdict == Verdict::kPass && !baseline->intermittent; }
  nlohmann::json normalise;  // the scenario's own normalisation rules, if any
  // The runtime work the scenario caused, by RPC (RunPodSandbox,
  // CreateContainer, ExecSync, Exec, Attach, PullImage): calls made, shared
  // steps it was handed not counted.
  std::map<std::string, int> work;
};

struct RunResult {
  std::string run_id;
  client::Endpoint endpoint;
  nlohmann::json runtime_version;  // the VersionResponse
  // Where it ran: {"name", "kernel", "os", "arch"} (node.h NodeFacts).
  nlohmann::json node = nlohmann::json::object();
  // "K/N" when the run took shard K of N of the selected scenarios
  // (crisp run --shard), else "".
  std::string shard;
  // What the runner probed before running: {"status", "runtime_config",
  // "host", "facts"}; see capabilities.h.
  nlohmann::json capabilities = nlohmann::json::object();
  absl::Time start;
  absl::Time end;
  bool interrupted = false;
  std::vector<ScenarioResult> scenarios;
  // The final sweep: sandboxes of this run still present after every
  // scenario's cleanup (each one a leak), and what could not be removed.
  int swept = 0;
  std::vector<std::string> sweep_failures;

  int Count(Verdict verdict) const;
};

}  // namespace crisp::runner
