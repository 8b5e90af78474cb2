// The scenario model: what a suite file says, once loaded and checked.
// Only the loader knows YAML; everything else works on these types.
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace crisp::scenario {

// Where a node came from, for `file:line:col: message`.
struct SourceLocation {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based
  std::string ToString() const;
};

// One check of a value found at `path` in an observation.
struct Check {
  enum class Op {
    kEquals,       // deep equality (numbers compare by value)
    kNotEquals,
    kContains,     // substring; list element that matches; object subset
    kNotContains,
    kMatches,      // ECMAScript regex, searched in a string
    kAbsent,       // operand true: the path does not exist (or is null)
    kPresent,      // operand true: the path exists
    kCount,        // list or map size
    kGreaterThan,  // numbers
    kLessThan,
    kOneOf,        // equals one of the listed values
  };
  std::string path;  // "status.state", "containers[0].labels['crisp.io/x']"; "" = the whole value
  Op op = Op::kEquals;
  nlohmann::json operand;
  SourceLocation where;
};

std::string_view OpName(Check::Op op);

struct Expectation {
  // The gRPC code the call must end with, by gRPC name ("OK", "NotFound").
  std::string code = "OK";
  std::vector<Check> checks;
  // Where the CRI allows several answers: the step passes when any one of
  // these holds (code and checks above are then unused). Alternatives have
  // no alternatives of their own.
  std::vector<Expectation> any_of;
};

// Poll a step until its expectation holds or `timeout` passes. Without an
// `interval`, the pause between attempts starts short and doubles up to
// kMaxBackoff: most waits (a container's exit, a log line) end within a few
// tens of milliseconds, and a fixed quarter second made each of them cost
// one. With an `interval`, every pause is that long.
struct Wait {
  static constexpr absl::Duration kFirstBackoff = absl::Milliseconds(10);
  static constexpr absl::Duration kMaxBackoff = absl::Milliseconds(250);
  absl::Duration timeout = absl::Seconds(30);
  std::optional<absl::Duration> interval;

  // The pause after attempt number `attempt` (1 for the first) failed.
  absl::Duration Pause(int attempt) const {
    if (interval) return *interval;
    absl::Duration pause = kFirstBackoff;
    for (int i = 1; i < attempt && pause < kMaxBackoff; ++i) pause *= 2;
    return std::min(pause, kMaxBackoff);
  }
};

struct Step {
  enum class Kind {
    kCall,  // one CRI RPC
    kLog,   // read a container's CRI log file on the host
    kHost,  // act on the host: host_action with `request` as its arguments
    kAwait,  // check (and end) a streaming or background call an earlier step started
  };
  Kind kind = Kind::kCall;
  std::string name;      // for traces; defaults to the RPC name
  std::string method;    // kCall: RPC name as FindCriMethod takes it
  std::string log_of;    // kLog: the saved CreateContainer step whose log to read
  // kCall of a server-streaming RPC: the call is opened and runs on while
  // the next steps do; a later kAwait step (await_of = its save) checks the
  // messages it has collected: {"messages": [...]}.
  bool opens_stream = false;
  // kCall with `background: true`: the call is issued and the next steps
  // run while it is in flight; a later kAwait step waits for its answer and
  // judges it (with its own expect:), and only then is the answer saved.
  bool background = false;
  std::string await_of;  // kAwait: the save name of the streaming or background call
  bool awaits_call = false;  // kAwait: of a background call (one answer, judged once)
  std::string host_action;  // kHost: "temp_dir", "mount", ... (host_actions.h)
  int concurrent = 1;    // kCall: issue the call this many times at once
  // kCall: the request; kHost: the action's arguments. {"$fixture": FILE}
  // nodes are resolved at load time, ${...} references when the step runs.
  nlohmann::json request = nlohmann::json::object();
  // Run the step only when this (a ${...} reference, resolved when the step
  // is reached) is true; null: always. A step skipped so passes, and says so.
  nlohmann::json when;
  std::string save;                    // save the result under this name
  std::optional<bool> cleanup;         // undo what the step created (default by RPC)
  std::optional<absl::Duration> timeout;
  std::optional<Wait> wait;
  Expectation expect;
  SourceLocation where;
};

struct Scenario {
  std::string id;  // "area.behaviour", stable
  std::string title;
  std::vector<std::string> tags;
  std::string spec_ref;
  std::vector<std::string> requires_;  // "root", "apparmor", ...: see requirements.h
  // RPCs whose UNIMPLEMENTED answer makes the scenario n.a. rather than a
  // failure: the parts of CRI a runtime may leave out.
  std::vector<std::string> allow_unimplemented;
  // Keys of the critest specs this scenario covers (docs/critest-v1.26.1.yaml,
  // docs/critest-head.yaml).
  std::vector<std::string> critest;
  // crisp does around each call what the kubelet does (runner/kubelet.h):
  // namespaces a container leaves unset follow its pod's, log directories
  // exist before the calls that use them. False: requests go as written, to
  // test a runtime's own handling of what a kubelet would never send.
  bool kubelet_fidelity = true;
  // Normalisation rules for comparing this scenario's answers between
  // runtimes (docs/normalisation.md), as a JSON list; null when none.
  nlohmann::json normalise;
  // Why this scenario may pin a runtime-specific form (an ID's shape, a
  // whole map): the portability lint (portability.h) skips it when set.
  std::string strict;
  // The suite's shared steps this scenario begins with (`uses:`), each
  // saving under its name: with suite-scoped fixtures the runner may hand
  // it what an earlier scenario's made (a pod, a pulled image) instead.
  std::vector<Step> uses;
  std::vector<Step> steps;
  absl::Duration timeout = absl::Minutes(5);
  std::string suite;  // the suite's name
  SourceLocation where;
};

struct Suite {
  std::string name;  // from `suite:`, else the file name without .yaml
  std::string description;
  std::string file;
  std::string fixture_dir;  // where $fixture files are looked up
  // Steps its scenarios may share (`shared:`), by name: RunPodSandbox or PullImage.
  std::vector<Step> shared;
  std::vector<Scenario> scenarios;
};

}  // namespace crisp::scenario
