#include "harness/scenario/json_path.h"

#include <cctype>

#include "absl/status/status.h"
#include "common/strings.h"

namespace crisp::scenario {
namespace {

absl::Status Bad(std::string_view text, size_t at, std::string_view why) {
  return absl::InvalidArgumentError(
      crisp::StrCat("bad path \"", text, "\" at character ", at + 1, ": ", why));
}

}  // namespace

absl::StatusOr<JsonPath> ParsePath(std::string_view text) {
  JsonPath path;
  size_t i = 0;
  bool expect_key = true;  // at the start, or after a '.'
  while (i < text.size()) {
    char c = text[i];
    if (c == '[') {
      size_t close = text.find(']', i);
      if (close == std::string_view::npos) return Bad(text, i, "'[' without ']'");
      std::string_view inside = text.substr(i + 1, close - i - 1);
      if (inside.size() >= 2 && (inside.front() == '\'' || inside.front() == '"') &&
          inside.back() == inside.front()) {
        path.emplace_back(std::string(inside.substr(1, inside.size() - 2)));
      } else if (!inside.empty() &&
                 std::all_of(inside.begin(), inside.end(),
                             [](char d) { return std::isdigit(static_cast<unsigned char>(d)); })) {
        path.emplace_back(static_cast<size_t>(std::stoul(std::string(inside))));
      } else {
        return Bad(text, i, "brackets hold an index [0] or a quoted key ['a.b']");
      }
      i = close + 1;
      expect_key = false;
    } else if (c == '.') {
      if (expect_key) return Bad(text, i, "empty segment");
      ++i;
      expect_key = true;
      if (i == text.size()) return Bad(text, i - 1, "path ends with '.'");
    } else {
      if (!expect_key) return Bad(text, i, "expected '.' or '[' here");
      size_t end = text.find_first_of(".[", i);
      if (end == std::string_view::npos) end = text.size();
      path.emplace_back(std::string(text.substr(i, end - i)));
      i = end;
      expect_key = false;
    }
  }
  return path;
}

const nlohmann::json* Lookup(const nlohmann::json& root, const JsonPath& path) {
  const nlohmann::json* node = &root;
  for (const PathSegment& segment : path) {
    if (const auto* key = std::get_if<std::string>(&segment)) {
      if (!node->is_object()) return nullptr;
      auto found = node->find(*key);
      if (found == node->end()) return nullptr;
      node = &*found;
    } else {
      size_t index = std::get<size_t>(segment);
      if (!node->is_array() || index >= node->size()) return nullptr;
      node = &(*node)[index];
    }
  }
  return node;
}

}  // namespace crisp::scenario
