#include "common/yaml_document.h"

#include <fstream>
#include <set>
#include <sstream>

#include "absl/status/status.h"
#include "common/strings.h"

namespace crisp {

std::string YamlWhere(std::string_view source, const YAML::Node& node) {
  return crisp::StrCat(source, ":", node.Mark().line + 1, ":", node.Mark().column + 1);
}

namespace {

void CollectRepeatedKeys(const YAML::Node& node, std::vector<YAML::Node>& out) {
  if (node.IsMap()) {
    std::set<std::string> keys;
    for (const auto& entry : node) {
      if (entry.first.IsScalar() && !keys.insert(entry.first.Scalar()).second) out.push_back(entry.first);
      CollectRepeatedKeys(entry.second, out);
    }
  } else if (node.IsSequence()) {
    for (const auto& element : node) CollectRepeatedKeys(element, out);
  }
}

}  // namespace

std::vector<YAML::Node> RepeatedKeys(const YAML::Node& node) {
  std::vector<YAML::Node> out;
  CollectRepeatedKeys(node, out);
  return out;
}

absl::StatusOr<YAML::Node> ParseYaml(std::string_view text, std::string_view source) {
  absl::StatusOr<YAML::Node> root = GuardYaml<YAML::Node>(source, [&] { return YAML::Load(std::string(text)); });
  if (!root.ok()) return root;
  if (std::vector<YAML::Node> repeated = RepeatedKeys(*root); !repeated.empty()) {
    return absl::InvalidArgumentError(crisp::StrCat(YamlWhere(source, repeated.front()), ": key \"",
                                                    repeated.front().Scalar(), "\" appears twice in this map"));
  }
  return root;
}

absl::StatusOr<std::string> ReadConfigFile(const std::string& path, std::string_view what) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(crisp::StrCat("cannot read ", what, " ", path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace crisp
