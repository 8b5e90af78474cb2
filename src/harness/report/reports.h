// Report writers for one run: JUnit XML for CI, results.json for machines.
// The results.json schema is documented in docs/results-schema.md.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "harness/runner/result.h"
#include "nlohmann/json.hpp"

namespace crisp::report {

// The results.json schema identifier; bump the number on incompatible change.
inline constexpr char kResultsSchema[] = "crisp.results/v1";

// JUnit XML: one <testsuite> per suite file, the endpoint and runtime as
// properties, <failure>, <error> and <skipped> kept apart, and the step
// trace of each scenario in <system-out>.
std::string JunitXml(const runner::RunResult& run);

// Every observation of the run as JSON (schema kResultsSchema).
nlohmann::json ResultsJson(const runner::RunResult& run);

// The run a results.json document (schema kResultsSchema) describes, as
// ResultsJson wrote it: ResultsJson(*RunFromResultsJson(ResultsJson(run)))
// is ResultsJson(run). An error names the first thing that does not fit.
absl::StatusOr<runner::RunResult> RunFromResultsJson(const nlohmann::json& results);

// A readable trace of one scenario: each step, attempt, code and mismatch.
std::string StepTrace(const runner::ScenarioResult& scenario);

// Writes junit.xml, results.json and report.html (matrix.html's page with
// one column) into `directory` (created if needed),
// each through a temporary file and a rename.
absl::Status WriteReports(const runner::RunResult& run, const std::string& directory);

// Writes each (name, content) into `directory` (made if missing), each
// through a temporary file renamed into place, so a reader never sees half
// a report.
absl::Status WriteFiles(const std::string& directory, const std::vector<std::pair<std::string, std::string>>& files);

}  // namespace crisp::report
