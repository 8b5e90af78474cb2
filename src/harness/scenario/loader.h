// Loading and checking suite files. The only place that knows YAML.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "harness/scenario/model.h"

namespace crisp::scenario {

struct Diagnostic {
  SourceLocation where;
  std::string message;
  // "file:line:col: message"
  std::string ToString() const;
};

struct LoadResult {
  std::vector<Suite> suites;
  // Every problem found, in file order. Suites with problems are still
  // returned, but must not be run.
  std::vector<Diagnostic> diagnostics;
  bool ok() const { return diagnostics.empty(); }
};

// Loads suite files, and every *.yaml / *.yml below a directory (sorted).
// Checks unknown keys, missing fixture files, unknown RPCs and request
// fields, expectations, references to saved results, and duplicate ids.
LoadResult LoadSuites(const std::vector<std::string>& paths);

// The same, for one suite held in memory (tests).
LoadResult LoadSuiteText(const std::string& text, const std::string& file,
                         const std::string& fixture_dir);

// Replaces each {"$fixture": FILE, ...overrides} object in `node` by FILE's
// JSON (from `fixture_dir`) with the overrides merged over it. Errors name
// the fixture file, with line and column for JSON syntax errors.
absl::StatusOr<nlohmann::json> ResolveFixtures(const nlohmann::json& node,
                                               const std::string& fixture_dir);

// Merges `overrides` into `base`: objects key by key, recursively; anything
// else replaces.
void DeepMerge(nlohmann::json& base, const nlohmann::json& overrides);

}  // namespace crisp::scenario
