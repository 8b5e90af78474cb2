#include "harness/cli/config.h"

#include <cstdlib>
#include <filesystem>
#include <set>

#include "common/strings.h"
#include "common/yaml_document.h"

namespace crisp::cli {
namespace {

namespace fs = std::filesystem;

std::string Relative(const std::string& source, const std::string& path) {
  if (path.empty() || fs::path(path).is_absolute()) return path;
  return (fs::path(source).parent_path() / path).lexically_normal().string();
}

}  // namespace

std::string CrispConfig::ResolveEndpoint(const std::string& text) const {
  auto found = endpoints.find(text);
  return found == endpoints.end() ? text : crisp::StrCat(text, "=", found->second);
}

absl::StatusOr<CrispConfig> ParseConfig(std::string_view text, const std::string& source) {
  absl::StatusOr<YAML::Node> parsed = ParseYaml(text, source);
  if (!parsed.ok()) return parsed.status();
  const YAML::Node root = *parsed;
  return GuardYaml<CrispConfig>(source, [&]() -> absl::StatusOr<CrispConfig> {
    CrispConfig config;
    config.source = source;
    if (root.IsNull()) return config;
    auto where = [&](const YAML::Node& node) { return YamlWhere(source, node); };
    if (!root.IsMap()) return absl::InvalidArgumentError(where(root) + ": crisp.yaml is a map (timeout:, endpoints:, ...)");
    static const std::set<std::string> kKeys = {"timeout", "registry_mirrors", "endpoints", "matrix", "suites", "baseline"};
    for (const auto& entry : root) {
      const std::string key = entry.first.as<std::string>();
      if (!kKeys.count(key)) {
        return absl::InvalidArgumentError(crisp::StrCat(where(entry.first), ": unknown key \"", key,
                                                        "\" (timeout, registry_mirrors, endpoints, matrix, suites, baseline)"));
      }
    }
    auto scalar = [&](const YAML::Node& node, const char* what) -> absl::StatusOr<std::string> {
      if (!node.IsScalar()) return absl::InvalidArgumentError(crisp::StrCat(where(node), ": ", what, " is text"));
      return node.as<std::string>();
    };
    auto list = [&](const YAML::Node& node, const char* what) -> absl::StatusOr<std::vector<std::string>> {
      if (!node.IsSequence()) return absl::InvalidArgumentError(crisp::StrCat(where(node), ": ", what, " is a list"));
      std::vector<std::string> out;
      for (const YAML::Node& item : node) {
        absl::StatusOr<std::string> value = scalar(item, what);
        if (!value.ok()) return value.status();
        out.push_back(*value);
      }
      return out;
    };
    auto map = [&](const YAML::Node& node, const char* what) -> absl::StatusOr<std::map<std::string, std::string>> {
      if (!node.IsMap()) return absl::InvalidArgumentError(crisp::StrCat(where(node), ": ", what, " is a map"));
      std::map<std::string, std::string> out;
      for (const auto& entry : node) {
        absl::StatusOr<std::string> value = scalar(entry.second, what);
        if (!value.ok()) return value.status();
        out[entry.first.as<std::string>()] = *value;
      }
      return out;
    };
    if (root["timeout"]) {
      absl::StatusOr<std::string> value = scalar(root["timeout"], "timeout");
      if (!value.ok()) return value.status();
      config.timeout = *value;
    }
    if (root["registry_mirrors"]) {
      absl::StatusOr<std::map<std::string, std::string>> mirrors = map(root["registry_mirrors"], "registry_mirrors");
      if (!mirrors.ok()) return mirrors.status();
      for (const auto& [registry, url] : *mirrors) config.registry_mirrors.push_back(crisp::StrCat(registry, "=", url));
    }
    if (root["endpoints"]) {
      absl::StatusOr<std::map<std::string, std::string>> endpoints = map(root["endpoints"], "endpoints");
      if (!endpoints.ok()) return endpoints.status();
      config.endpoints = *endpoints;
    }
    if (root["matrix"]) {
      const YAML::Node& matrix = root["matrix"];
      if (!matrix.IsMap()) return absl::InvalidArgumentError(where(matrix) + ": matrix is a map (endpoints:)");
      for (const auto& entry : matrix) {
        if (entry.first.as<std::string>() != "endpoints") {
          return absl::InvalidArgumentError(where(entry.first) + ": matrix takes endpoints: only");
        }
      }
      absl::StatusOr<std::vector<std::string>> endpoints = list(matrix["endpoints"], "matrix.endpoints");
      if (!endpoints.ok()) return endpoints.status();
      config.matrix_endpoints = *endpoints;
    }
    if (root["suites"]) {
      absl::StatusOr<std::vector<std::string>> suites = list(root["suites"], "suites");
      if (!suites.ok()) return suites.status();
      for (const std::string& suite : *suites) config.suites.push_back(Relative(source, suite));
    }
    if (root["baseline"]) {
      absl::StatusOr<std::string> baseline = scalar(root["baseline"], "baseline");
      if (!baseline.ok()) return baseline.status();
      config.baseline = Relative(source, *baseline);
    }
    return config;
  });
}

absl::StatusOr<CrispConfig> LoadConfig(const std::string& path) {
  std::vector<std::string> candidates;
  if (!path.empty()) {
    candidates.push_back(path);
  } else {
    candidates.push_back("crisp.yaml");
    const char* xdg = std::getenv("XDG_CONFIG_HOME");
    const char* home = std::getenv("HOME");
    if (xdg != nullptr && *xdg != '\0') {
      candidates.push_back(crisp::StrCat(xdg, "/crisp/crisp.yaml"));
    } else if (home != nullptr && *home != '\0') {
      candidates.push_back(crisp::StrCat(home, "/.config/crisp/crisp.yaml"));
    }
  }
  for (const std::string& candidate : candidates) {
    std::error_code ignored;
    if (path.empty() && !fs::exists(candidate, ignored)) continue;
    absl::StatusOr<std::string> text = ReadConfigFile(candidate, "config");
    if (!text.ok()) return text.status();
    return ParseConfig(*text, candidate);
  }
  return CrispConfig{};
}

}  // namespace crisp::cli
