#include "harness/diff/behaviour.h"

#include <map>
#include <set>

#include "common/strings.h"

namespace crisp::diff {
namespace {

using nlohmann::json;

bool IsPlainKey(const std::string& key) {
  return !key.empty() &&
         key.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == std::string::npos;
}

void AppendKey(std::string& path, const std::string& key) {
  if (IsPlainKey(key)) {
    crisp::StrAppend(&path, path.empty() ? "" : ".", key);
  } else {
    crisp::StrAppend(&path, "['", key, "']");
  }
}

// An empty list or map is no field at all: proto3 cannot tell it from an
// absent one.
const json* Present(const json* node) {
  if (node == nullptr) return nullptr;
  if ((node->is_object() || node->is_array()) && node->empty()) return nullptr;
  return node;
}

// Walks the sides' values together and records the leaves where they
// differ. Equal subtrees are skipped whole, so the common case (every
// side agrees) costs one comparison per step.
void CompareNodes(const std::vector<const json*>& nodes, const std::vector<size_t>& sides, std::string& path,
                  const CompareOptions& options, StepDifference& out) {
  const json* first = Present(nodes[sides.front()]);
  bool same = true, objects = true, lists = true;
  for (size_t side : sides) {
    const json* node = Present(nodes[side]);
    if ((node == nullptr) != (first == nullptr) || (node != nullptr && *node != *first)) same = false;
    if (node != nullptr) {
      objects = objects && node->is_object();
      lists = lists && node->is_array();
    }
  }
  if (same) return;
  std::vector<const json*> children(nodes.size(), nullptr);
  if (objects) {
    std::set<std::string> keys;
    for (size_t side : sides) {
      if (const json* node = Present(nodes[side])) {
        for (const auto& [key, value] : node->items()) keys.insert(key);
      }
    }
    for (const std::string& key : keys) {
      for (size_t side : sides) {
        const json* node = Present(nodes[side]);
        auto found = node == nullptr ? json::const_iterator() : node->find(key);
        children[side] = node != nullptr && found != node->end() ? &*found : nullptr;
      }
      size_t length = path.size();
      AppendKey(path, key);
      CompareNodes(children, sides, path, options, out);
      path.resize(length);
    }
    return;
  }
  if (lists) {
    size_t most = 0;
    for (size_t side : sides) {
      if (const json* node = Present(nodes[side])) most = std::max(most, node->size());
    }
    for (size_t i = 0; i < most; ++i) {
      for (size_t side : sides) {
        const json* node = Present(nodes[side]);
        children[side] = node != nullptr && i < node->size() ? &(*node)[i] : nullptr;
      }
      size_t length = path.size();
      crisp::StrAppend(&path, "[", i, "]");
      CompareNodes(children, sides, path, options, out);
      path.resize(length);
    }
    return;
  }
  if (out.fields.size() >= options.max_fields) {
    ++out.fields_left_out;
    return;
  }
  FieldDifference field{path, std::vector<std::optional<json>>(nodes.size())};
  for (size_t side : sides) {
    if (const json* node = Present(nodes[side])) field.values[side] = *node;
  }
  out.fields.push_back(std::move(field));
}

const json& Steps(const json* scenario) {
  static const json kNone = json::array();
  if (scenario == nullptr || !scenario->contains("steps") || !(*scenario)["steps"].is_array()) return kNone;
  return (*scenario)["steps"];
}

}  // namespace

bool HasAnswer(std::string_view code) { return code == "OK" || code == "log" || code == "host" || code == "cleanup"; }

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
      std::string code = behaviour.contains("log")    ? "log"
                         : behaviour.contains("host") ? "host"
                                                      : behaviour.value("code", "");
      difference.codes[side] = code;
      codes.insert(code);
      if (HasAnswer(code)) answered.push_back(side);
    }
    if (names.size() > 1) break;  // the sides ran different scenarios from here on
    size_t reached = 0;
    for (const std::string& code : difference.codes) reached += !code.empty();
    if (reached < 2) continue;

    if (answered.size() >= 2) {
      // The answer sits under "log" or "host" for those steps, else "response".
      const std::string& kind = difference.codes[answered.front()];
      std::string path = kind == "OK" ? "response" : kind;
      std::vector<const json*> roots(sides, nullptr);
      for (size_t side : answered) {
        const json& behaviour = normalised[side][i];
        auto found = behaviour.find(path);
        if (found != behaviour.end()) roots[side] = &*found;
      }
      CompareNodes(roots, answered, path, options, difference);
    }
    if (codes.size() > 1 || !difference.fields.empty() || difference.fields_left_out > 0) {
      differences.push_back(std::move(difference));
    }
  }
  // What cleanup learnt (results.json "findings") is behaviour too.
  StepDifference cleanup;
  cleanup.step = static_cast<int>(most_steps) + 1;
  cleanup.name = "cleanup";
  cleanup.codes.assign(sides, "");
  FieldDifference findings{"findings", std::vector<std::optional<json>>(sides)};
  std::set<std::string> seen;
  for (size_t side = 0; side < sides; ++side) {
    if (scenarios[side] == nullptr) continue;
    cleanup.codes[side] = "cleanup";
    json list = scenarios[side]->value("findings", json::array());
    findings.values[side] = list;
    seen.insert(list.dump());
  }
  if (seen.size() > 1) {
    cleanup.fields.push_back(std::move(findings));
    differences.push_back(std::move(cleanup));
  }
  return differences;
}

}  // namespace crisp::diff
