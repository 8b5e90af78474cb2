// Files that are either wholly old or wholly new: write to a temporary file
// in the same directory, fsync, rename over.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace crisp::crispd {

absl::Status WriteFileAtomically(const std::string& path, std::string_view content);
absl::StatusOr<std::string> ReadFile(const std::string& path);

}  // namespace crisp::crispd
