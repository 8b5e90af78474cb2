// Reports over several runs of the same suites, one per runtime: the
// scenario x runtime table, and where the runtimes behave differently, step
// by step, after normalisation (docs/normalisation.md), also where every
// runtime passes.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "harness/diff/normalise.h"
#include "harness/runner/result.h"
#include "nlohmann/json.hpp"

namespace crisp::report {

inline constexpr char kMatrixSchema[] = "crisp.matrix/v1";

struct StepDifference {
  std::string scenario;
  int step = 0;
  std::string name;
  std::string method;
  // runtime name -> the gRPC code name of the step's last attempt, "log"
  // for log steps, "" when the runtime did not reach the step
  std::vector<std::pair<std::string, std::string>> codes;
  struct Field {
    std::string path;
    // runtime name -> normalised value; nullopt: absent. Only runtimes
    // that answered OK appear.
    std::vector<std::pair<std::string, std::optional<nlohmann::json>>> values;
  };
  std::vector<Field> fields;
  size_t fields_left_out = 0;
};

// The runs and their differences, with the matrix's results.json document,
// computed once for every report.
struct Matrix {
  const std::vector<runner::RunResult>* runs = nullptr;
  std::vector<StepDifference> differences;
  // {"schema": kMatrixSchema, "runs": [results.json of each run], "differences": [...]}
  nlohmann::json document;
};

Matrix BuildMatrix(const std::vector<runner::RunResult>& runs, const diff::Normaliser& normaliser);

// summary.md: fit for a PR comment.
std::string MatrixMarkdown(const Matrix& matrix);

// results.json of a matrix: {"schema": kMatrixSchema, "runs": [results.json of each run],
// "differences": [...]}.
inline const nlohmann::json& MatrixJson(const Matrix& matrix) { return matrix.document; }

// Writes matrix.html, summary.md (`summary`: MatrixMarkdown's, which the
// caller also prints), results.json and junit-<runtime>.xml into `directory`.
absl::Status WriteMatrixReports(const Matrix& matrix, const std::string& summary, const std::string& directory);

}  // namespace crisp::report
