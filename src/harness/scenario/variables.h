// ${...} references in requests: `${pod.pod_sandbox_id}` is the field
// pod_sandbox_id of what step `save: pod` saved; `${run.id}` and friends are
// set by the runner. A string that is one whole reference takes the value's
// type (a number stays a number); references inside a longer string are
// formatted into it. `$${` writes a literal `${`.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace crisp::scenario {

class Variables {
 public:
  void Set(const std::string& name, nlohmann::json value);
  bool Has(const std::string& name) const { return values_.count(name) > 0; }

  // Replaces every reference in the strings of `node`, recursively. An
  // unknown name or a path that does not exist is an error naming it.
  absl::StatusOr<nlohmann::json> Resolve(const nlohmann::json& node) const;

 private:
  absl::StatusOr<nlohmann::json> Lookup(std::string_view reference) const;
  absl::StatusOr<nlohmann::json> ResolveString(const std::string& text) const;

  std::map<std::string, nlohmann::json> values_;
};

// The names every reference in `node` starts with (`pod` for
// ${pod.pod_sandbox_id}), for load-time checks; malformed references are
// reported in `errors`.
std::vector<std::string> ReferencedNames(const nlohmann::json& node,
                                         std::vector<std::string>* errors);

}  // namespace crisp::scenario
