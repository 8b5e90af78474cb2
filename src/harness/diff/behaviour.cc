#include "harness/diff/behaviour.h"

#include <map>
#include <set>

#include "common/strings.h"

namespace crisp::diff {
namespace {

using nlohmann::json;

void FlattenInto(const json& value, std::string& path, std::vector<std::pair<std::string, json>>& out) {
  if (value.is_object() && !value.empty()) {
    for (const auto& [key, child] : value.items()) {
      size_t length = path.size();
      bool plain = !key.empty() && key.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") ==
                                       std::string::npos;
      if (plain) {
        crisp::StrAppend(&path, path.empty() ? "" : ".", key);
      } else {
        crisp::StrAppend(&path, "['", key, "']");
      }
      FlattenInto(child, path, out);
      path.resize(length);
    }
  } else if (value.is_array() && !value.empty()) {
    for (size_t i = 0; i < value.size(); ++i) {
      size_t length = path.size();
      crisp::StrAppend(&path, "[", i, "]");
      FlattenInto(value[i], path, out);
      path.resize(length);
    }
  } else if (!value.is_object() && !value.is_array()) {
    out.emplace_back(path, value);
  }
  // An empty list or map is no field at all: proto3 cannot tell it from an
  // absent one.
}

const json& Steps(const json* scenario) {
  static const json kNone = json::array();
  if (scenario == nullptr || !scenario->contains("steps") || !(*scenario)["steps"].is_array()) return kNone;
  return (*scenario)["steps"];
}

}  // namespace

std::vector<std::pair<std::string, json>> Flatten(const json& value) {
  std::vector<std::pair<std::string, json>> out;
  std::string path;
  FlattenInto(value, path, out);
  return out;
}

std::vector<StepDifference> CompareBehaviour(const std::vector<const json*>& scenarios, const Normaliser& normaliser,
                                             const CompareOptions& options) {
  const size_t sides = scenarios.size();
  std::vector<std::vector<json>> normalised(sides);
  size_t most_steps = 0;
  for (size_t side = 0; side < sides; ++side) {
    if (scenarios[side] != nullptr) normalised[side] = normaliser.Normalise(*scenarios[side]);
    most_steps = std::max(most_steps, normalised[side].size());
  }
  std::vector<StepDifference> differences;
  for (size_t i = 0; i < most_steps; ++i) {
    StepDifference difference;
    difference.step = static_cast<int>(i) + 1;
    difference.codes.assign(sides, "");
    std::set<std::string> names, codes;
    std::vector<size_t> answered;  // sides whose answer's fields are compared
    for (size_t side = 0; side < sides; ++side) {
      if (i >= normalised[side].size() || normalised[side][i].empty()) continue;
      const json& step = Steps(scenarios[side])[i];
      difference.name = step.value("name", "");
      difference.method = step.value("method", "");
      names.insert(difference.name);
      const json& behaviour = normalised[side][i];
      std::string code = behaviour.contains("log") ? "log" : behaviour.value("code", "");
      difference.codes[side] = code;
      codes.insert(code);
      if (code == "OK" || code == "log") answered.push_back(side);
    }
    if (names.size() > 1) break;  // the sides ran different scenarios from here on
    size_t reached = 0;
    for (const std::string& code : difference.codes) reached += !code.empty();
    if (reached < 2) continue;

    if (answered.size() >= 2) {
      std::map<std::string, std::vector<std::optional<json>>> fields;
      std::vector<std::string> order;
      for (size_t side : answered) {
        const json& behaviour = normalised[side][i];
        for (auto& [path, value] : Flatten(behaviour.contains("log") ? json{{"log", behaviour["log"]}}
                                                                     : json{{"response", behaviour.value("response", json::object())}})) {
          auto [it, inserted] = fields.try_emplace(path, sides);
          if (inserted) order.push_back(path);
          it->second[side] = std::move(value);
        }
      }
      for (const std::string& path : order) {
        const auto& values = fields[path];
        bool differs = false;
        for (size_t side : answered) differs = differs || values[side] != values[answered.front()];
        if (!differs) continue;
        if (difference.fields.size() >= options.max_fields) {
          ++difference.fields_left_out;
          continue;
        }
        FieldDifference field{path, {}};
        field.values.resize(sides);
        for (size_t side : answered) field.values[side] = values[side];
        difference.fields.push_back(std::move(field));
      }
    }
    if (codes.size() > 1 || !difference.fields.empty() || difference.fields_left_out > 0) {
      differences.push_back(std::move(difference));
    }
  }
  return differences;
}

}  // namespace crisp::diff
