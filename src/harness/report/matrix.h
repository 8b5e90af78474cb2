// Reports over several runs of the same suites, one per runtime: the
// scenario x runtime table, and where the runtimes answer differently
// (step by step, also where every runtime passes).
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "harness/runner/result.h"
#include "nlohmann/json.hpp"

namespace crisp::report {

inline constexpr char kMatrixSchema[] = "crisp.matrix/v1";

struct StepDifference {
  std::string scenario;
  int step = 0;
  std::string name;
  // runtime name -> the gRPC code name of the step's last attempt ("" = not reached)
  std::vector<std::pair<std::string, std::string>> codes;
};

// Steps whose gRPC code is not the same on every runtime that reached them.
std::vector<StepDifference> StepDifferences(const std::vector<runner::RunResult>& runs);

// summary.md: fit for a PR comment.
std::string MatrixMarkdown(const std::vector<runner::RunResult>& runs);

// results.json of a matrix: {"schema": kMatrixSchema, "runs": [results.json of each run],
// "differences": [...]}.
nlohmann::json MatrixJson(const std::vector<runner::RunResult>& runs);

// Writes summary.md, results.json and junit-<runtime>.xml into `directory`.
absl::Status WriteMatrixReports(const std::vector<runner::RunResult>& runs, const std::string& directory);

}  // namespace crisp::report
