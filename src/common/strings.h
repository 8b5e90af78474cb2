// String building for crisp. Debian's absl is built with its own
// absl::string_view (not std::string_view), so absl::StrCat does not take
// std::string_view; these fmt-based helpers take both.
#pragma once

#include <iterator>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"
#include "fmt/format.h"

template <>
struct fmt::formatter<absl::string_view> : fmt::formatter<std::string_view> {
  auto format(absl::string_view text, format_context& context) const {
    return fmt::formatter<std::string_view>::format(
        std::string_view(text.data(), text.size()), context);
  }
};

namespace crisp {

// Appends each argument as fmt's "{}" would print it.
template <typename... Args>
void StrAppend(std::string* out, const Args&... args) {
  (fmt::format_to(std::back_inserter(*out), "{}", args), ...);
}

template <typename... Args>
std::string StrCat(const Args&... args) {
  std::string out;
  StrAppend(&out, args...);
  return out;
}

// Whether `text` matches `pattern`, where '*' matches any run of characters
// (no other character is special). Linear backtracking, no recursion.
inline bool GlobMatch(std::string_view pattern, std::string_view text) {
  size_t p = 0, t = 0, star = std::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

// absl::string_view -> std::string_view, for absl::Status::message() and kin.
inline std::string_view View(absl::string_view text) {
  return {text.data(), text.size()};
}

}  // namespace crisp
