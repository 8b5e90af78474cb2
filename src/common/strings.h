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

// Whether `bytes` is well-formed UTF-8 as RFC 3629 defines it (no overlong
// forms, no surrogates, nothing past U+10FFFF): what JSON writers such as
// nlohmann::json's dump() accept. Returns the offset of the first bad byte
// in `*bad_at` when not.
inline bool IsUtf8(std::string_view bytes, size_t* bad_at = nullptr) {
  size_t i = 0;
  while (i < bytes.size()) {
    const auto lead = static_cast<unsigned char>(bytes[i]);
    size_t length = 0;
    unsigned char low = 0x80, high = 0xBF;  // the range of the second byte
    if (lead < 0x80) {
      length = 1;
    } else if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) low = 0xA0;
      if (lead == 0xED) high = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) low = 0x90;
      if (lead == 0xF4) high = 0x8F;
    }
    bool good = length != 0 && i + length <= bytes.size();
    for (size_t k = 1; good && k < length; ++k) {
      const auto next = static_cast<unsigned char>(bytes[i + k]);
      good = k == 1 ? (next >= low && next <= high) : (next & 0xC0) == 0x80;
    }
    if (!good) {
      if (bad_at != nullptr) *bad_at = i;
      return false;
    }
    i += length;
  }
  return true;
}

}  // namespace crisp
