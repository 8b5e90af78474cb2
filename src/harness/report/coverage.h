// docs/coverage.md: which crisp scenarios cover each critest spec, and
// which scenarios call each CRI RPC, generated from the suites by
// `crisp coverage` so that it cannot drift from them.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "harness/scenario/model.h"

namespace crisp::report {

struct CritestSpec {
  std::string key;   // our stable id, what scenarios name in `critest:`
  std::string area;
  std::string spec;  // as critest prints it
  std::string here;  // "runs", "needs-apparmor", ...
  std::string note;
};

struct CritestList {
  std::string version;
  std::vector<CritestSpec> specs;
};

// docs/critest-v1.26.1.yaml, docs/critest-head.yaml; errors say file:line:col.
absl::StatusOr<CritestList> LoadCritestList(const std::string& path);

// How many of one critest version's specs the suites cover.
struct CritestCount {
  std::string version;
  int specs = 0;
  int runnable = 0;  // `here: runs`
  int runnable_covered = 0;
  int other_covered = 0;  // not runnable here, yet named by a scenario (n.a. here)
};

struct Coverage {
  std::string markdown;
  // Scenarios naming a critest key that is in none of the lists. A key in
  // one list only is fine: critest versions add and remove specs, and keys
  // are shared between versions only where the behaviour is the same.
  std::vector<std::string> problems;
  std::vector<CritestCount> lists;  // in the order given
  int rpcs_uncovered = 0;
};

// One section per critest list, in the order given, then the RPCs.
Coverage BuildCoverage(const std::vector<const scenario::Scenario*>& scenarios,
                       const std::vector<CritestList>& critest);

}  // namespace crisp::report
