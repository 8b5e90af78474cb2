// Paths into JSON observations: `status.state`, `containers[0].image.image`,
// `labels['crisp.io/fixture']`. A segment is a key, [N] or ['key'] / ["key"]
// (for keys holding dots).
#pragma once

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace crisp::scenario {

using PathSegment = std::variant<std::string, size_t>;
using JsonPath = std::vector<PathSegment>;

// An empty text is the empty path (the whole value).
absl::StatusOr<JsonPath> ParsePath(std::string_view text);

// The value at `path`, or nullptr when some segment does not exist.
const nlohmann::json* Lookup(const nlohmann::json& root, const JsonPath& path);

}  // namespace crisp::scenario
