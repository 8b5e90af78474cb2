// JSON as text for reports and messages. What runtimes and programs write
// (log lines, command output) is not always UTF-8; nlohmann's dump() throws
// on such bytes, which would lose a whole report. These replace them (with
// U+FFFD) instead.
#pragma once

#include <string>

#include "nlohmann/json.hpp"

namespace crisp {

inline std::string JsonText(const nlohmann::json& value, int indent = -1) {
  return value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace crisp
