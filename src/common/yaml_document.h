// Small YAML configuration files (baselines, normalisation rules): parsed
// with every error naming file:line:col. Suites have their own loader.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "yaml-cpp/yaml.h"

namespace crisp {

// "source:line:col" of a node (1-based).
std::string YamlWhere(std::string_view source, const YAML::Node& node);

// The document in `text`; a syntax error says source:line:col and what.
absl::StatusOr<YAML::Node> ParseYaml(std::string_view text, std::string_view source);

// The text of a configuration file; a missing one says which and what it
// was for ("cannot read baseline b.yaml").
absl::StatusOr<std::string> ReadConfigFile(const std::string& path, std::string_view what);

}  // namespace crisp
