// The words a scenario may name in `requires:`, with what each one means.
// The runner decides whether a runtime meets them (runner/capabilities.h);
// the loader only checks that a word is known.
#pragma once

#include <span>
#include <string_view>

namespace crisp::scenario {

struct Requirement {
  std::string_view name;
  std::string_view meaning;
};

// Every requirement word, in the order docs and error messages list them.
std::span<const Requirement> Requirements();

bool IsKnownRequirement(std::string_view name);

}  // namespace crisp::scenario
