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

// docs/critest-v1.26.1.yaml; errors say file:line:col.
absl::StatusOr<CritestList> LoadCritestList(const std::string& path);

struct Coverage {
  std::string markdown;
  std::vector<std::string> problems;  // scenarios naming unknown critest keys
  int specs_runnable = 0;             // `here: runs`
  int specs_runnable_covered = 0;
  int rpcs_uncovered = 0;
};

Coverage BuildCoverage(const std::vector<const scenario::Scenario*>& scenarios, const CritestList& critest);

}  // namespace crisp::report
