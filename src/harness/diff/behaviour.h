// Behaviour diff: the same scenario's steps, normalised, side by side (one
// side per runtime in a matrix, or the old and new run in `crisp diff`):
// where the gRPC code differs, and which fields differ in value or in
// being there at all. Also where every side passed.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "harness/diff/normalise.h"
#include "nlohmann/json.hpp"

namespace crisp::diff {

struct FieldDifference {
  std::string path;  // "response.status.image_ref", "log.entries[0].time"
  std::vector<std::optional<nlohmann::json>> values;  // per side; nullopt: the field is absent
};

struct StepDifference {
  int step = 0;  // 1-based
  std::string name;
  std::string method;
  // per side: the gRPC code name, "log" or "host" for those steps, "" when
  // not reached
  std::vector<std::string> codes;
  std::vector<FieldDifference> fields;
  size_t fields_left_out = 0;  // differences past the cap
};

struct CompareOptions {
  size_t max_fields = 25;  // per step
};

// Whether a step's code (as in StepDifference::codes) comes with an answer
// whose fields are compared: OK calls, log and host steps, and the
// findings of cleanup ("cleanup").
bool HasAnswer(std::string_view code);

// `scenarios` holds one results.json scenario per side (null: not run on
// that side). Only steps that two or more sides reached are compared;
// fields only between sides that answered OK, read the log, or ran a host
// action.
std::vector<StepDifference> CompareBehaviour(const std::vector<const nlohmann::json*>& scenarios,
                                             const Normaliser& normaliser, const CompareOptions& options = {});

}  // namespace crisp::diff
