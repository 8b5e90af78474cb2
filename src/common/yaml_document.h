// Small YAML configuration files (baselines, normalisation rules): parsed
// with every error naming file:line:col. Suites have their own loader.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/strings.h"
#include "yaml-cpp/yaml.h"

namespace crisp {

// "source:line:col" of a node (1-based).
std::string YamlWhere(std::string_view source, const YAML::Node& node);

// The document in `text`; a syntax error, or a key repeated in a map (YAML
// would keep the last silently), says source:line:col and what.
absl::StatusOr<YAML::Node> ParseYaml(std::string_view text, std::string_view source);

// The keys that repeat an earlier key of their map, anywhere under `node`.
std::vector<YAML::Node> RepeatedKeys(const YAML::Node& node);

// Runs `parse` on a loaded document and turns what yaml-cpp throws (a list
// where text was expected, ...) into an error at the node it names.
template <typename Result, typename Parse>
absl::StatusOr<Result> GuardYaml(std::string_view source, Parse parse) {
  try {
    return parse();
  } catch (const YAML::Exception& error) {
    return absl::InvalidArgumentError(crisp::StrCat(source, ":", error.mark.line + 1, ":", error.mark.column + 1,
                                                    ": ", error.msg));
  }
}

// The text of a configuration file; a missing one says which and what it
// was for ("cannot read baseline b.yaml").
absl::StatusOr<std::string> ReadConfigFile(const std::string& path, std::string_view what);

}  // namespace crisp
