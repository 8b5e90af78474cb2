#include "common/yaml_document.h"

#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "common/strings.h"

namespace crisp {

std::string YamlWhere(std::string_view source, const YAML::Node& node) {
  return crisp::StrCat(source, ":", node.Mark().line + 1, ":", node.Mark().column + 1);
}

absl::StatusOr<YAML::Node> ParseYaml(std::string_view text, std::string_view source) {
  try {
    return YAML::Load(std::string(text));
  } catch (const YAML::Exception& error) {
    return absl::InvalidArgumentError(
        crisp::StrCat(source, ":", error.mark.line + 1, ":", error.mark.column + 1, ": ", error.msg));
  }
}

absl::StatusOr<std::string> ReadConfigFile(const std::string& path, std::string_view what) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(crisp::StrCat("cannot read ", what, " ", path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace crisp
