#include "harness/scenario/loader.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "absl/status/status.h"
#include "harness/diff/normalise.h"
#include "common/strings.h"
#include "common/yaml_document.h"
#include "google/protobuf/descriptor.h"
#include "harness/client/methods.h"
#include "harness/scenario/expect.h"
#include "harness/scenario/host_actions.h"
#include "harness/scenario/json_path.h"
#include "harness/scenario/requirements.h"
#include "harness/scenario/variables.h"
#include "yaml-cpp/yaml.h"

namespace crisp::scenario {
namespace {

namespace fs = std::filesystem;
using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

// Names the runner sets for every scenario (see runner.h).
const std::set<std::string, std::less<>> kBuiltinNames = {"run", "scenario"};

// JSON pointer -> where the node was written.
using LocationMap = std::map<std::string, SourceLocation>;

class Checker {
 public:
  Checker(std::string file, std::vector<Diagnostic>& out) : file_(std::move(file)), out_(out) {}

  SourceLocation At(const YAML::Node& node) const {
    YAML::Mark mark = node.Mark();
    return {file_, mark.line + 1, mark.column + 1};
  }
  void Error(const SourceLocation& where, std::string message) {
    out_.push_back({where, std::move(message)});
  }
  void Error(const YAML::Node& node, std::string message) { Error(At(node), std::move(message)); }
  size_t count() const { return out_.size(); }
  const std::string& file() const { return file_; }

 private:
  std::string file_;
  std::vector<Diagnostic>& out_;
};

// YAML scalars carry no type: plain ones that read as null, booleans or
// numbers become those; quoted ones stay strings.
nlohmann::json ScalarToJson(const YAML::Node& node) {
  const std::string& text = node.Scalar();
  if (node.Tag() == "!") return text;  // quoted
  if (text == "~" || text == "null" || text == "Null" || text == "NULL") return nullptr;
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  static const std::regex integer(R"(^[-+]?(0|[1-9][0-9]*)$)");
  static const std::regex decimal(R"(^[-+]?([0-9]+\.[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$)");
  if (std::regex_match(text, integer)) {
    try {
      if (text.front() == '-') return std::stoll(text);
      return std::stoull(text[0] == '+' ? text.substr(1) : text);
    } catch (const std::out_of_range&) {
      return text;
    }
  }
  if (std::regex_match(text, decimal)) return std::stod(text);
  return text;
}

nlohmann::json ToJson(const YAML::Node& node, const std::string& pointer, Checker& checker,
                      LocationMap& locations) {
  locations[pointer] = checker.At(node);
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::json object = nlohmann::json::object();
      for (const auto& entry : node) {
        std::string key = entry.first.as<std::string>();
        std::string child = pointer + "/" + key;
        object[key] = ToJson(entry.second, child, checker, locations);
        // Problems with a field are shown at its key, where a reader looks.
        locations[child] = checker.At(entry.first);
      }
      return object;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json array = nlohmann::json::array();
      size_t index = 0;
      for (const auto& element : node) {
        array.push_back(ToJson(element, crisp::StrCat(pointer, "/", index++), checker, locations));
      }
      return array;
    }
    case YAML::NodeType::Scalar: return ScalarToJson(node);
    default: return nullptr;
  }
}

SourceLocation Nearest(const LocationMap& locations, std::string pointer) {
  while (true) {
    if (auto found = locations.find(pointer); found != locations.end()) return found->second;
    if (pointer.empty()) return {};
    pointer = pointer.substr(0, pointer.rfind('/'));
  }
}

// YAML lets a map repeat a key and keeps the last; a repeated check would
// then vanish without a word. Reported at the second one.
void CheckRepeatedKeys(const YAML::Node& node, Checker& checker) {
  for (const YAML::Node& key : RepeatedKeys(node)) {
    checker.Error(key, crisp::StrCat("key \"", key.Scalar(), "\" appears twice in this map"));
  }
}

// Checks that every key in `node` is one of `allowed`.
void CheckKeys(const YAML::Node& node, std::initializer_list<std::string_view> allowed,
               std::string_view what, Checker& checker) {
  for (const auto& entry : node) {
    std::string key = entry.first.as<std::string>();
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string known;
      for (std::string_view name : allowed) crisp::StrAppend(&known, known.empty() ? "" : ", ", name);
      checker.Error(entry.first, crisp::StrCat("unknown key \"", key, "\" in ", what, " (known: ", known, ")"));
    }
  }
}

std::optional<std::string> String(const YAML::Node& node, std::string_view what, Checker& checker) {
  if (!node.IsScalar()) {
    checker.Error(node, crisp::StrCat(what, " must be a string"));
    return std::nullopt;
  }
  return node.Scalar();
}

std::vector<std::string> StringList(const YAML::Node& node, std::string_view what, Checker& checker) {
  std::vector<std::string> items;
  if (!node.IsSequence()) {
    checker.Error(node, crisp::StrCat(what, " must be a list of strings"));
    return items;
  }
  for (const auto& item : node) {
    if (auto text = String(item, what, checker)) items.push_back(*text);
  }
  return items;
}

std::optional<absl::Duration> Duration(const YAML::Node& node, std::string_view what, Checker& checker) {
  absl::Duration duration;
  if (!node.IsScalar() || !absl::ParseDuration(node.Scalar(), &duration) ||
      duration <= absl::ZeroDuration()) {
    checker.Error(node, crisp::StrCat(what, " must be a positive duration such as 500ms, 30s or 2m"));
    return std::nullopt;
  }
  return duration;
}

// --- request validation against the CRI descriptors ---

const FieldDescriptor* FindField(const Descriptor* type, const std::string& key) {
  if (const FieldDescriptor* field = type->FindFieldByName(key)) return field;
  for (int i = 0; i < type->field_count(); ++i) {
    if (type->field(i)->json_name() == key) return type->field(i);
  }
  return nullptr;
}

bool HasReference(const nlohmann::json& value) {
  return value.is_string() && value.get_ref<const std::string&>().find("${") != std::string::npos;
}

std::string_view JsonKind(const nlohmann::json& value) {
  if (value.is_object()) return "an object";
  if (value.is_array()) return "a list";
  if (value.is_string()) return "a string";
  if (value.is_boolean()) return "a boolean";
  if (value.is_number()) return "a number";
  return "null";
}

void ValidateValue(const nlohmann::json& value, const FieldDescriptor* field,
                   const std::string& pointer, const std::string& dotted,
                   const LocationMap& locations, Checker& checker);

void ValidateMessage(const nlohmann::json& node, const Descriptor* type, const std::string& pointer,
                     const std::string& dotted, const LocationMap& locations, Checker& checker) {
  if (!node.is_object()) {
    checker.Error(Nearest(locations, pointer),
                  crisp::StrCat(dotted.empty() ? "the request" : dotted, " must be an object (",
                                type->full_name(), "), not ", JsonKind(node)));
    return;
  }
  for (const auto& [key, value] : node.items()) {
    std::string child_pointer = pointer + "/" + key;
    std::string child_dotted = dotted.empty() ? key : dotted + "." + key;
    const FieldDescriptor* field = FindField(type, key);
    if (field == nullptr) {
      checker.Error(Nearest(locations, child_pointer),
                    crisp::StrCat("unknown field \"", key, "\" in ", type->full_name(),
                                  dotted.empty() ? "" : " at ", dotted));
      continue;
    }
    if (field->is_map()) {
      if (!value.is_object()) {
        checker.Error(Nearest(locations, child_pointer),
                      crisp::StrCat(child_dotted, " is a map and must be an object"));
        continue;
      }
      const FieldDescriptor* map_value = field->message_type()->map_value();
      for (const auto& [map_key, map_item] : value.items()) {
        ValidateValue(map_item, map_value, child_pointer + "/" + map_key,
                      child_dotted + "['" + map_key + "']", locations, checker);
      }
    } else if (field->is_repeated()) {
      if (!value.is_array()) {
        if (!HasReference(value)) {
          checker.Error(Nearest(locations, child_pointer),
                        crisp::StrCat(child_dotted, " is repeated and must be a list"));
        }
        continue;
      }
      for (size_t i = 0; i < value.size(); ++i) {
        ValidateValue(value[i], field, crisp::StrCat(child_pointer, "/", i),
                      crisp::StrCat(child_dotted, "[", i, "]"), locations, checker);
      }
    } else {
      ValidateValue(value, field, child_pointer, child_dotted, locations, checker);
    }
  }
}

void ValidateValue(const nlohmann::json& value, const FieldDescriptor* field,
                   const std::string& pointer, const std::string& dotted,
                   const LocationMap& locations, Checker& checker) {
  if (HasReference(value) || value.is_null()) return;  // resolved at run time
  auto wrong = [&](std::string_view wanted) {
    checker.Error(Nearest(locations, pointer),
                  crisp::StrCat(dotted, " must be ", wanted, ", not ", JsonKind(value)));
  };
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_MESSAGE:
      ValidateMessage(value, field->message_type(), pointer, dotted, locations, checker);
      break;
    case FieldDescriptor::CPPTYPE_ENUM:
      if (value.is_string()) {
        if (field->enum_type()->FindValueByName(value.get<std::string>()) == nullptr) {
          std::string names;
          for (int i = 0; i < field->enum_type()->value_count(); ++i) {
            crisp::StrAppend(&names, i == 0 ? "" : ", ", field->enum_type()->value(i)->name());
          }
          checker.Error(Nearest(locations, pointer),
                        crisp::StrCat(dotted, ": \"", value.get<std::string>(), "\" is not a ",
                                      field->enum_type()->name(), " (", names, ")"));
        }
      } else if (!value.is_number_integer()) {
        wrong("an enum name or number");
      }
      break;
    case FieldDescriptor::CPPTYPE_STRING:
      if (!value.is_string()) wrong("a string");
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      if (!value.is_boolean()) wrong("true or false");
      break;
    default:  // numbers; protobuf's JSON also takes them as strings
      if (!value.is_number() && !value.is_string()) wrong("a number");
      break;
  }
}

// --- expectations ---

std::optional<Check::Op> ParseOp(std::string_view name) {
  for (Check::Op op : {Check::Op::kEquals, Check::Op::kNotEquals, Check::Op::kContains,
                       Check::Op::kNotContains, Check::Op::kMatches, Check::Op::kAbsent,
                       Check::Op::kPresent, Check::Op::kCount, Check::Op::kGreaterThan,
                       Check::Op::kLessThan, Check::Op::kOneOf}) {
    if (OpName(op) == name) return op;
  }
  return std::nullopt;
}

void CheckOperand(const Check& check, Checker& checker) {
  auto bad = [&](std::string_view wanted) {
    checker.Error(check.where, crisp::StrCat(OpName(check.op), " takes ", wanted));
  };
  switch (check.op) {
    case Check::Op::kMatches:
      if (!check.operand.is_string()) return bad("a regular expression");
      try {
        std::regex(check.operand.get<std::string>());
      } catch (const std::regex_error& error) {
        checker.Error(check.where, crisp::StrCat("matches: bad regular expression \"",
                                                 check.operand.get<std::string>(), "\": ", error.what()));
      }
      return;
    case Check::Op::kAbsent:
    case Check::Op::kPresent:
      if (!check.operand.is_boolean()) bad("true or false");
      return;
    case Check::Op::kCount:
    case Check::Op::kGreaterThan:
    case Check::Op::kLessThan: {
      // A number, or one whole ${...} reference to a number saved earlier.
      bool reference = check.operand.is_string() && check.operand.get<std::string>().starts_with("${") &&
                       check.operand.get<std::string>().ends_with("}");
      if (!check.operand.is_number() && !reference) bad("a number");
      return;
    }
    case Check::Op::kOneOf:
      if (!check.operand.is_array()) bad("a list");
      return;
    case Check::Op::kContains:
    case Check::Op::kNotContains:
      // An empty list is in every list: a check that cannot fail (or never holds).
      if (check.operand.is_array() && check.operand.empty()) bad("a value, or a list with at least one element");
      return;
    default: return;
  }
}

// `that:` is a map from path to either a value (equals) or a map of ops.
std::vector<Check> ParseChecks(const YAML::Node& node, Checker& checker) {
  std::vector<Check> checks;
  if (!node.IsMap()) {
    checker.Error(node, "that: must map paths to values or to {op: operand}");
    return checks;
  }
  for (const auto& entry : node) {
    std::string path = entry.first.as<std::string>();
    if (absl::StatusOr<JsonPath> parsed = ParsePath(path); !parsed.ok()) {
      checker.Error(entry.first, std::string(crisp::View(parsed.status().message())));
      continue;
    }
    LocationMap ignored;
    const YAML::Node& spec = entry.second;
    bool all_ops = spec.IsMap() && spec.size() > 0;
    if (all_ops) {
      for (const auto& op_entry : spec) all_ops = all_ops && ParseOp(op_entry.first.as<std::string>());
    }
    if (!all_ops) {
      checks.push_back({path, Check::Op::kEquals, ToJson(spec, "", checker, ignored), checker.At(entry.first)});
      if (spec.IsMap() && spec.size() > 0) {
        // A map that mixes op names with other keys is almost surely a typo.
        for (const auto& op_entry : spec) {
          std::string key = op_entry.first.as<std::string>();
          if (!ParseOp(key) && spec.size() > 1 && std::any_of(spec.begin(), spec.end(), [](const auto& e) {
                return ParseOp(e.first.template as<std::string>()).has_value();
              })) {
            checker.Error(op_entry.first, crisp::StrCat("\"", key, "\" is not an operator (equals, contains, matches, absent, present, count, greater_than, less_than, one_of, not_equals, not_contains); write {equals: {...}} to compare a whole object"));
          }
        }
      }
      continue;
    }
    for (const auto& op_entry : spec) {
      Check check{path, *ParseOp(op_entry.first.as<std::string>()),
                  ToJson(op_entry.second, "", checker, ignored), checker.At(op_entry.first)};
      CheckOperand(check, checker);
      checks.push_back(std::move(check));
    }
  }
  return checks;
}

std::optional<Expectation> ParseExpectation(const YAML::Node& node, Checker& checker, bool alternative = false) {
  Expectation expectation;
  if (!node.IsMap()) {
    checker.Error(node, alternative ? "an any_of: alternative must be a map with code: and/or that:"
                                    : "expect: must be a map with code: and/or that:, or any_of:");
    return std::nullopt;
  }
  if (!alternative && node["any_of"]) {
    CheckKeys(node, {"any_of"}, "expect with any_of: (put code: and that: in each alternative)", checker);
    const YAML::Node& list = node["any_of"];
    if (!list.IsSequence() || list.size() < 2) {
      checker.Error(list, "any_of: must be a list of two or more alternatives, each with code: and/or that:");
      return std::nullopt;
    }
    for (const auto& item : list) {
      if (auto parsed = ParseExpectation(item, checker, /*alternative=*/true)) {
        expectation.any_of.push_back(*std::move(parsed));
      }
    }
    return expectation;
  }
  CheckKeys(node, {"code", "that"}, alternative ? "an any_of: alternative" : "expect", checker);
  if (node["code"]) {
    if (auto code = String(node["code"], "code", checker)) {
      if (!IsKnownCodeName(*code)) {
        checker.Error(node["code"], crisp::StrCat("unknown gRPC code \"", *code,
                                                  "\" (OK, NotFound, InvalidArgument, ..., or error for any failure)"));
      }
      expectation.code = *code;
    }
  }
  if (node["that"]) expectation.checks = ParseChecks(node["that"], checker);
  return expectation;
}

// --- steps and scenarios ---

struct ScenarioContext {
  std::set<std::string> saved;                     // names saved by earlier steps
  std::map<std::string, std::string> saved_method;  // name -> RPC
  std::map<std::string, std::string> streams;       // save name of an opened stream or background call -> RPC
  std::set<std::string> background;                 // those of them that are background calls
};

void CheckReferences(const nlohmann::json& request, const SourceLocation& where,
                     const ScenarioContext& context, Checker& checker) {
  std::vector<std::string> errors;
  for (const std::string& name : ReferencedNames(request, &errors)) {
    if (!kBuiltinNames.count(name) && !context.saved.count(name)) {
      checker.Error(where, crisp::StrCat("${", name, "...} refers to nothing: no earlier step saves \"",
                                         name, "\" (save: ", name, ")"));
    }
  }
  for (std::string& error : errors) checker.Error(where, std::move(error));
}

// host: {ACTION: {ARG: value, ...}}: one action, its arguments checked
// against the action's list.
void ParseHostStep(const YAML::Node& host, const std::string& fixture_dir, Step& step, Checker& checker) {
  std::string known;
  for (const HostAction& action : HostActions()) crisp::StrAppend(&known, known.empty() ? "" : ", ", action.name);
  if (!host.IsMap() || host.size() != 1) {
    checker.Error(host, crisp::StrCat("host: takes one action, as {action: {arguments}} (", known, ")"));
    return;
  }
  const auto entry = *host.begin();
  step.host_action = entry.first.as<std::string>();
  const HostAction* action = FindHostAction(step.host_action);
  if (action == nullptr) {
    checker.Error(entry.first, crisp::StrCat("unknown host action \"", step.host_action, "\" (", known, ")"));
    return;
  }
  if (step.name.empty()) step.name = "host " + step.host_action;
  LocationMap locations;
  nlohmann::json args = entry.second.IsNull() ? nlohmann::json::object() : ToJson(entry.second, "", checker, locations);
  if (!args.is_object()) {
    checker.Error(entry.second, crisp::StrCat("the arguments of ", step.host_action, " are a map"));
    return;
  }
  absl::StatusOr<nlohmann::json> resolved = ResolveFixtures(args, fixture_dir);
  if (!resolved.ok()) {
    checker.Error(entry.second, std::string(crisp::View(resolved.status().message())));
    return;
  }
  step.request = *std::move(resolved);
  for (const auto& [key, value] : step.request.items()) {
    if (std::find(action->required.begin(), action->required.end(), key) == action->required.end() &&
        std::find(action->optional.begin(), action->optional.end(), key) == action->optional.end()) {
      std::string takes;
      for (const auto* list : {&action->required, &action->optional}) {
        for (std::string_view name : *list) crisp::StrAppend(&takes, takes.empty() ? "" : ", ", name);
      }
      checker.Error(entry.second, crisp::StrCat(step.host_action, " takes no argument \"", key, "\" (it takes: ",
                                                takes.empty() ? "none" : takes, ")"));
    }
  }
  for (std::string_view key : action->required) {
    if (!step.request.contains(std::string(key))) {
      checker.Error(entry.second, crisp::StrCat(step.host_action, " needs the argument ", key));
    }
  }
}

std::optional<Step> ParseStep(const YAML::Node& node, const std::string& fixture_dir,
                              ScenarioContext& context, Checker& checker) {
  if (!node.IsMap()) {
    checker.Error(node, "a step must be a map (call: RPC, request: ..., expect: ...)");
    return std::nullopt;
  }
  CheckKeys(node,
            {"name", "call", "log", "host", "await", "request", "concurrent", "background", "save", "cleanup", "timeout", "wait",
             "when", "expect"},
            "a step", checker);
  Step step;
  step.where = checker.At(node);
  if (int(node["call"].IsDefined()) + int(node["log"].IsDefined()) + int(node["host"].IsDefined()) +
          int(node["await"].IsDefined()) !=
      1) {
    checker.Error(node,
                  "a step needs exactly one of call: (an RPC), log: (a saved container), host: (an action on the "
                  "host) or await: (a streaming call opened before)");
    return std::nullopt;
  }
  if (node["name"]) step.name = String(node["name"], "name", checker).value_or("");
  if (node["when"]) {
    std::optional<std::string> when = String(node["when"], "when", checker);
    if (when && *when != "true" && *when != "false" && when->find("${") == std::string::npos) {
      checker.Error(node["when"], "when: takes a ${...} reference that comes out true or false (\"${create.ok}\")");
    } else if (when) {
      step.when = *when;
      CheckReferences(step.when, checker.At(node["when"]), context, checker);
    }
  }

  if (node["call"]) {
    step.kind = Step::Kind::kCall;
    std::optional<std::string> method = String(node["call"], "call", checker);
    if (!method) return std::nullopt;
    absl::StatusOr<const client::MethodDescriptor*> descriptor = client::FindCriMethod(*method);
    if (!descriptor.ok()) {
      checker.Error(node["call"], std::string(crisp::View(descriptor.status().message())));
      return std::nullopt;
    }
    if (!client::IsUnary(**descriptor)) {
      if ((*descriptor)->client_streaming()) {
        checker.Error(node["call"],
                      crisp::StrCat((*descriptor)->name(), " streams requests; steps call unary and server-streaming RPCs"));
      }
      step.opens_stream = true;
      if (!node["save"]) {
        checker.Error(node, crisp::StrCat((*descriptor)->name(),
                                          " is a streaming RPC: its step opens the stream and needs a save: name, "
                                          "which a later await: step checks"));
      }
      for (const char* key : {"expect", "wait", "concurrent"}) {
        if (node[key]) {
          checker.Error(node[key], crisp::StrCat(key, ": does not apply to opening a stream; put expect: and wait: on "
                                                 "the await: step"));
        }
      }
    }
    step.method = (*descriptor)->name();
    if (step.name.empty()) step.name = step.method;
    if (node["background"]) {
      const YAML::Node& background = node["background"];
      if (!background.IsScalar() || (background.Scalar() != "true" && background.Scalar() != "false")) {
        checker.Error(background, "background: must be true or false");
      }
      step.background = background.IsScalar() && background.Scalar() == "true";
      if (step.background) {
        if (step.opens_stream) checker.Error(node["background"], "background: is for unary calls; a streaming call runs on by itself");
        if (!node["save"]) {
          checker.Error(node, "a background: call needs a save: name, which a later await: step waits for and checks");
        }
        for (const char* key : {"expect", "wait", "concurrent"}) {
          if (node[key]) {
            checker.Error(node[key], crisp::StrCat(key, ": does not apply to starting a background call; put expect: "
                                                   "on the await: step"));
          }
        }
      }
    }

    LocationMap locations;
    if (node["request"]) {
      nlohmann::json raw = ToJson(node["request"], "", checker, locations);
      absl::StatusOr<nlohmann::json> resolved = ResolveFixtures(raw, fixture_dir);
      if (!resolved.ok()) {
        checker.Error(node["request"], std::string(crisp::View(resolved.status().message())));
      } else {
        step.request = *std::move(resolved);
      }
    }
    ValidateMessage(step.request, (*descriptor)->input_type(), "", "", locations, checker);
    CheckReferences(step.request, checker.At(node["request"] ? node["request"] : node), context, checker);
  } else if (node["await"]) {
    step.kind = Step::Kind::kAwait;
    step.await_of = String(node["await"], "await", checker).value_or("");
    if (step.name.empty()) step.name = "await " + step.await_of;
    auto opened = context.streams.find(step.await_of);
    if (opened == context.streams.end()) {
      checker.Error(node["await"], crisp::StrCat("await: \"", step.await_of,
                                                 "\" must name an earlier streaming call's save: (GetContainerEvents) "
                                                 "or a background: call's, not yet awaited"));
    } else {
      step.method = opened->second;
      if (context.background.count(step.await_of)) {
        step.awaits_call = true;
        // One answer, judged once: nothing to wait for again.
        if (node["wait"]) checker.Error(node["wait"], "wait: does not apply to awaiting a background call (its one answer is judged once)");
        context.streams.erase(opened);  // awaited once
        context.background.erase(step.await_of);
      }
    }
    if (node["request"]) checker.Error(node["request"], "an await step takes no request");
    if (node["save"]) checker.Error(node["save"], "an await step saves nothing");
  } else if (node["host"]) {
    step.kind = Step::Kind::kHost;
    ParseHostStep(node["host"], fixture_dir, step, checker);
    CheckReferences(step.request, checker.At(node["host"]), context, checker);
    if (node["request"]) checker.Error(node["request"], "a host step takes its arguments in host: {action: {...}}");
  } else {
    step.kind = Step::Kind::kLog;
    step.log_of = String(node["log"], "log", checker).value_or("");
    if (step.name.empty()) step.name = "log of " + step.log_of;
    auto method = context.saved_method.find(step.log_of);
    if (method == context.saved_method.end() || method->second != "CreateContainer") {
      checker.Error(node["log"], crisp::StrCat("log: \"", step.log_of,
                                               "\" must name an earlier CreateContainer step's save:"));
    }
    if (node["request"]) checker.Error(node["request"], "a log step takes no request");
  }

  if (node["background"] && step.kind != Step::Kind::kCall) {
    checker.Error(node["background"], "background: applies to call steps");
  }
  if (node["concurrent"]) {
    if (step.kind != Step::Kind::kCall) {
      checker.Error(node["concurrent"], "concurrent: applies to call steps");
    } else {
      try {
        step.concurrent = node["concurrent"].as<int>();
      } catch (const YAML::Exception&) {
        step.concurrent = 0;
      }
      if (step.concurrent < 1 || step.concurrent > 64) {
        checker.Error(node["concurrent"], "concurrent: must be a number from 1 to 64");
        step.concurrent = 1;
      }
    }
  }
  if (node["save"]) {
    if (auto save = String(node["save"], "save", checker)) {
      if (kBuiltinNames.count(*save)) {
        checker.Error(node["save"], crisp::StrCat("\"", *save, "\" is reserved; choose another name"));
      } else if (context.saved.count(*save)) {
        checker.Error(node["save"], crisp::StrCat("\"", *save, "\" is already saved by an earlier step"));
      }
      step.save = *save;
      context.saved.insert(*save);
      context.saved_method[*save] = step.method;  // empty for host and log steps
      if (step.opens_stream || step.background) context.streams[*save] = step.method;
      if (step.background) context.background.insert(*save);
    }
  }
  if (node["cleanup"]) {
    if (!node["cleanup"].IsScalar() || (node["cleanup"].Scalar() != "true" && node["cleanup"].Scalar() != "false")) {
      checker.Error(node["cleanup"], "cleanup: must be true or false");
    } else {
      step.cleanup = node["cleanup"].Scalar() == "true";
    }
  }
  if (node["timeout"]) step.timeout = Duration(node["timeout"], "timeout", checker);
  if (node["wait"]) {
    const YAML::Node& wait = node["wait"];
    Wait parsed;
    if (wait.IsMap()) {
      CheckKeys(wait, {"timeout", "interval"}, "wait", checker);
      if (wait["timeout"]) parsed.timeout = Duration(wait["timeout"], "wait.timeout", checker).value_or(parsed.timeout);
      if (wait["interval"]) parsed.interval = Duration(wait["interval"], "wait.interval", checker);
    } else if (auto timeout = Duration(wait, "wait", checker)) {
      parsed.timeout = *timeout;  // wait: 30s
    }
    step.wait = parsed;
    const HostAction* action = step.kind == Step::Kind::kHost ? FindHostAction(step.host_action) : nullptr;
    if (action != nullptr && !action->repeatable) {
      checker.Error(wait, crisp::StrCat("a ", step.host_action,
                                        " step uses up what it acts on (a streaming URL serves one connection), so it "
                                        "cannot be repeated: wait for what it needs in a step before"));
    }
  }
  if (node["expect"]) {
    if (auto expectation = ParseExpectation(node["expect"], checker)) step.expect = *std::move(expectation);
    for (const Check& check : step.expect.checks) {
      CheckReferences(check.operand, check.where, context, checker);
    }
    for (const Expectation& alternative : step.expect.any_of) {
      for (const Check& check : alternative.checks) CheckReferences(check.operand, check.where, context, checker);
    }
    if (!step.expect.any_of.empty() && step.kind != Step::Kind::kCall && step.kind != Step::Kind::kHost &&
        !step.awaits_call) {
      checker.Error(node["expect"], "any_of: is for call and host steps (and awaits of background calls), whose answer may be one of several");
    }
    if (step.kind == Step::Kind::kHost) {
      for (const Expectation& alternative : step.expect.any_of) {
        if (alternative.code != "OK") checker.Error(node["expect"], "a host step's any_of: alternatives have that: only");
      }
    }
    if (!step.expect.any_of.empty() && step.concurrent > 1) {
      checker.Error(node["expect"], "any_of: and concurrent: do not go together");
    }
  }
  if (step.kind != Step::Kind::kCall && step.kind != Step::Kind::kAwait && node["expect"] && node["expect"]["code"]) {
    checker.Error(node["expect"]["code"], "only call steps have a gRPC code to expect");
  }
  return step;
}

std::optional<Scenario> ParseScenario(const YAML::Node& node, const Suite& suite, Checker& checker) {
  if (!node.IsMap()) {
    checker.Error(node, "a scenario must be a map (id, title, steps, ...)");
    return std::nullopt;
  }
  CheckKeys(node, {"id", "title", "tags", "spec_ref", "critest", "requires", "allow_unimplemented", "kubelet_fidelity", "normalise",
                   "strict", "timeout", "uses", "steps"},
            "a scenario", checker);
  Scenario scenario;
  scenario.suite = suite.name;
  scenario.where = checker.At(node);
  static const std::regex id_format(R"(^[a-z0-9][a-z0-9-]*(\.[a-z0-9][a-z0-9-]*)+$)");
  if (!node["id"]) {
    checker.Error(node, "a scenario needs an id: (area.behaviour)");
  } else if (auto id = String(node["id"], "id", checker)) {
    if (!std::regex_match(*id, id_format)) {
      checker.Error(node["id"], crisp::StrCat("id \"", *id,
                                              "\" must be area.behaviour: lowercase words with '-', joined by '.'"));
    }
    scenario.id = *id;
  }
  if (!node["title"]) {
    checker.Error(node, crisp::StrCat("scenario ", scenario.id, " needs a title:"));
  } else {
    scenario.title = String(node["title"], "title", checker).value_or("");
  }
  if (node["tags"]) scenario.tags = StringList(node["tags"], "tags", checker);
  if (node["spec_ref"]) scenario.spec_ref = String(node["spec_ref"], "spec_ref", checker).value_or("");
  if (node["requires"]) {
    scenario.requires_ = StringList(node["requires"], "requires", checker);
    for (const std::string& requirement : scenario.requires_) {
      if (!IsKnownRequirement(requirement)) {
        std::string known;
        for (const Requirement& word : Requirements()) crisp::StrAppend(&known, known.empty() ? "" : ", ", word.name);
        checker.Error(node["requires"], crisp::StrCat("unknown requirement \"", requirement, "\" (known: ", known, ")"));
      }
    }
  }
  if (node["critest"]) scenario.critest = StringList(node["critest"], "critest", checker);
  if (node["allow_unimplemented"]) {
    scenario.allow_unimplemented = StringList(node["allow_unimplemented"], "allow_unimplemented", checker);
    for (std::string& method : scenario.allow_unimplemented) {
      absl::StatusOr<const client::MethodDescriptor*> found = client::FindCriMethod(method);
      if (!found.ok()) {
        checker.Error(node["allow_unimplemented"], std::string(crisp::View(found.status().message())));
      } else {
        method = std::string((*found)->name());
      }
    }
  }
  if (node["strict"]) {
    scenario.strict = String(node["strict"], "strict", checker).value_or("");
    if (scenario.strict.empty()) checker.Error(node["strict"], "strict: needs the reason the scenario pins a form");
  }
  if (node["normalise"]) {
    LocationMap ignored;
    nlohmann::json rules = ToJson(node["normalise"], "", checker, ignored);
    absl::StatusOr<std::vector<diff::Rule>> parsed = diff::RulesFromJson(rules, "normalise");
    if (!parsed.ok()) {
      // The place is the normalise: list's; the reader's own (in the JSON
      // it was given) would only mislead.
      checker.Error(node["normalise"], std::regex_replace(std::string(crisp::View(parsed.status().message())),
                                                          std::regex("^normalise:\\d+:\\d+: "), ""));
    } else {
      scenario.normalise = std::move(rules);
    }
  }
  if (node["kubelet_fidelity"]) {
    const YAML::Node& fidelity = node["kubelet_fidelity"];
    if (!fidelity.IsScalar() || (fidelity.Scalar() != "true" && fidelity.Scalar() != "false")) {
      checker.Error(fidelity, "kubelet_fidelity: must be true or false");
    } else {
      scenario.kubelet_fidelity = fidelity.Scalar() == "true";
    }
  }
  if (node["timeout"]) scenario.timeout = Duration(node["timeout"], "timeout", checker).value_or(scenario.timeout);
  if (!node["steps"] || !node["steps"].IsSequence() || node["steps"].size() == 0) {
    checker.Error(node, crisp::StrCat("scenario ", scenario.id, " needs steps: (a non-empty list)"));
    return scenario;
  }
  ScenarioContext context;
  if (node["uses"]) {
    for (const std::string& name : StringList(node["uses"], "uses", checker)) {
      auto shared = std::find_if(suite.shared.begin(), suite.shared.end(),
                                 [&](const Step& step) { return step.save == name; });
      if (shared == suite.shared.end()) {
        std::string known;
        for (const Step& step : suite.shared) crisp::StrAppend(&known, known.empty() ? "" : ", ", step.save);
        checker.Error(node["uses"], crisp::StrCat("uses: \"", name, "\" is not one of the suite's shared steps (",
                                                  known.empty() ? "it has none" : known, ")"));
      } else if (context.saved.count(name)) {
        checker.Error(node["uses"], crisp::StrCat("uses: \"", name, "\" twice"));
      } else {
        scenario.uses.push_back(*shared);
        context.saved.insert(name);
        context.saved_method[name] = shared->method;
      }
    }
  }
  for (const auto& step_node : node["steps"]) {
    if (auto step = ParseStep(step_node, suite.fixture_dir, context, checker)) {
      scenario.steps.push_back(*std::move(step));
    }
  }
  return scenario;
}

// fixtures/testdata of the nearest ancestor directory that has one.
std::string FindFixtureDir(const std::string& file) {
  fs::path dir = fs::absolute(fs::path(file)).parent_path();
  while (true) {
    fs::path candidate = dir / "fixtures" / "testdata";
    std::error_code error;
    if (fs::is_directory(candidate, error)) return candidate.string();
    if (!dir.has_parent_path() || dir.parent_path() == dir) return "";
    dir = dir.parent_path();
  }
}

// `shared:`, a map of name to one call step: a pod (RunPodSandbox) or an
// image (PullImage) that scenarios may share (uses: [name]). The step saves
// under its name; it expects OK and neither waits nor is conditional.
void ParseShared(const YAML::Node& node, Suite& suite, Checker& checker) {
  if (!node.IsMap()) {
    checker.Error(node, "shared: must map names to steps (pod: {call: RunPodSandbox, request: ...})");
    return;
  }
  for (const auto& entry : node) {
    const std::string name = entry.first.as<std::string>();
    const YAML::Node& step_node = entry.second;
    static const std::regex name_format(R"(^[a-z][a-z0-9_]*$)");
    if (!std::regex_match(name, name_format)) {
      checker.Error(entry.first, crisp::StrCat("shared: \"", name, "\" must be a lowercase name ([a-z][a-z0-9_]*)"));
      continue;
    }
    if (!step_node.IsMap()) {
      checker.Error(step_node, crisp::StrCat("shared: ", name, " must be a step (call:, request:)"));
      continue;
    }
    for (const char* key : {"save", "expect", "wait", "when", "concurrent", "cleanup"}) {
      if (step_node[key]) {
        checker.Error(step_node[key], crisp::StrCat("shared: ", name, ": a shared step has no ", key,
                                                    ": (it saves under its name, expects OK, is undone at the end)"));
      }
    }
    ScenarioContext context;
    std::optional<Step> step = ParseStep(step_node, suite.fixture_dir, context, checker);
    if (!step) continue;
    if (step->kind != Step::Kind::kCall || (step->method != "RunPodSandbox" && step->method != "PullImage")) {
      checker.Error(step_node, crisp::StrCat("shared: ", name, ": only a RunPodSandbox or PullImage call can be shared"));
      continue;
    }
    // Shared between scenarios, it must mean the same for each: no value of
    // one scenario's (${...}), no host port (each scenario is given its own).
    if (step->request.dump().find("${") != std::string::npos) {
      checker.Error(step_node, crisp::StrCat("shared: ", name, ": a shared step's request cannot refer to ${...}: "
                                             "it serves scenarios whose values differ"));
      continue;
    }
    // (Read with care: a request that is not what api.proto says was
    // diagnosed above, and must not throw here.)
    bool host_port = false;
    const nlohmann::json& request = step->request;
    if (request.is_object() && request.contains("config") && request["config"].is_object() &&
        request["config"].contains("port_mappings") && request["config"]["port_mappings"].is_array()) {
      for (const nlohmann::json& mapping : request["config"]["port_mappings"]) {
        host_port = host_port || (mapping.is_object() && mapping.contains("host_port") &&
                                  !(mapping["host_port"].is_number() && mapping["host_port"] == 0));
      }
    }
    if (host_port) {
      checker.Error(step_node, crisp::StrCat("shared: ", name, ": a shared pod cannot map a host port (each scenario "
                                             "is given a free one); give that scenario a pod of its own"));
      continue;
    }
    step->save = name;
    if (step->name == step->method) step->name = crisp::StrCat("shared ", name, " (", step->method, ")");
    suite.shared.push_back(*std::move(step));
  }
}

void ParseSuite(const YAML::Node& root, Suite& suite, Checker& checker) {
  if (!root.IsMap()) {
    checker.Error(root, "a suite file must be a map with scenarios:");
    return;
  }
  CheckKeys(root, {"suite", "description", "fixtures", "shared", "scenarios"}, "a suite file", checker);
  if (root["suite"]) suite.name = String(root["suite"], "suite", checker).value_or(suite.name);
  if (root["description"]) suite.description = String(root["description"], "description", checker).value_or("");
  if (root["fixtures"]) {
    if (auto dir = String(root["fixtures"], "fixtures", checker)) {
      suite.fixture_dir = (fs::path(suite.file).parent_path() / *dir).lexically_normal().string();
      std::error_code error;
      if (!fs::is_directory(suite.fixture_dir, error)) {
        checker.Error(root["fixtures"], crisp::StrCat("fixtures: ", suite.fixture_dir, " is not a directory"));
      }
    }
  }
  if (root["shared"]) ParseShared(root["shared"], suite, checker);
  if (!root["scenarios"] || !root["scenarios"].IsSequence()) {
    checker.Error(root, "a suite file needs scenarios: (a list)");
    return;
  }
  for (const auto& node : root["scenarios"]) {
    if (auto scenario = ParseScenario(node, suite, checker)) suite.scenarios.push_back(*std::move(scenario));
  }
}

void LoadOne(const std::string& text, const std::string& file, const std::string& fixture_dir,
             LoadResult& result) {
  Checker checker(file, result.diagnostics);
  Suite suite;
  suite.file = file;
  suite.name = fs::path(file).stem().string();
  suite.fixture_dir = fixture_dir;
  // Everything in a suite ends up in JSON (requests, reports), which holds
  // only UTF-8: other bytes are refused here, where the file and line say
  // where they are.
  if (size_t bad = 0; !crisp::IsUtf8(text, &bad)) {
    const size_t line = 1 + static_cast<size_t>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(bad), '\n'));
    const size_t line_start = text.rfind('\n', bad == 0 ? 0 : bad - 1);
    const size_t column = bad - (line_start == std::string::npos || bad == 0 ? 0 : line_start + 1) + 1;
    checker.Error(SourceLocation{file, static_cast<int>(line), static_cast<int>(column)},
                  "not UTF-8 text (suite files are UTF-8)");
    result.suites.push_back(std::move(suite));
    return;
  }
  try {
    YAML::Node root = YAML::Load(text);
    CheckRepeatedKeys(root, checker);
    ParseSuite(root, suite, checker);
  } catch (const YAML::Exception& error) {
    checker.Error(SourceLocation{file, error.mark.line + 1, error.mark.column + 1}, error.msg);
  }
  result.suites.push_back(std::move(suite));
}

void CheckDuplicateIds(LoadResult& result) {
  std::map<std::string, SourceLocation> seen;
  for (const Suite& suite : result.suites) {
    for (const Scenario& scenario : suite.scenarios) {
      if (scenario.id.empty()) continue;
      auto [it, inserted] = seen.emplace(scenario.id, scenario.where);
      if (!inserted) {
        result.diagnostics.push_back(
            {scenario.where, crisp::StrCat("duplicate id \"", scenario.id, "\"; first at ", it->second.ToString())});
      }
    }
  }
}

std::pair<int, int> LineColumn(const std::string& text, size_t byte) {
  int line = 1;
  int column = 1;
  for (size_t i = 0; i < byte && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return {line, column};
}

}  // namespace

std::string SourceLocation::ToString() const {
  if (line == 0) return file;
  return crisp::StrCat(file, ":", line, ":", column);
}

std::string Diagnostic::ToString() const { return crisp::StrCat(where.ToString(), ": ", message); }

void DeepMerge(nlohmann::json& base, const nlohmann::json& overrides) {
  if (!base.is_object() || !overrides.is_object()) {
    base = overrides;
    return;
  }
  for (const auto& [key, value] : overrides.items()) {
    if (base.contains(key)) {
      DeepMerge(base[key], value);
    } else {
      base[key] = value;
    }
  }
}

namespace {

// {$repeat: {times: N, text: T}}: T written N times, one string.
// {$repeat: {times: N, item: T}}: a list of N copies of T (any value), {i}
// in its strings their index.
// {$repeat: {times: N, key: K, value: V}}: a map of N entries, {i} in K (and V).
// For requests no kubelet sends: huge labels, env, command lines. At most
// 16 MiB of text in all, so a typo cannot exhaust memory.
absl::StatusOr<nlohmann::json> Repeat(const nlohmann::json& spec) {
  constexpr size_t kMaxBytes = 16 << 20;
  if (!spec.is_object() || !spec.contains("times") || !spec["times"].is_number_unsigned()) {
    return absl::InvalidArgumentError("$repeat takes {times: N, and text:, item:, or key: with value:}");
  }
  for (const auto& [key, value] : spec.items()) {
    if (key != "times" && key != "text" && key != "item" && key != "key" && key != "value") {
      return absl::InvalidArgumentError(crisp::StrCat("$repeat: unknown key \"", key, "\" (times, text, item, key, value)"));
    }
    if (key != "times" && key != "item" && !value.is_string()) {
      return absl::InvalidArgumentError(crisp::StrCat("$repeat: ", key, " is text"));
    }
  }
  const size_t times = spec["times"].get<size_t>();
  const int forms = static_cast<int>(spec.contains("text")) + static_cast<int>(spec.contains("item")) +
                    static_cast<int>(spec.contains("key"));
  if (forms != 1 || spec.contains("key") != spec.contains("value")) {
    return absl::InvalidArgumentError("$repeat takes one of text:, item:, or key: with value:");
  }
  std::function<nlohmann::json(const nlohmann::json&, size_t)> numbered_json;
  auto numbered = [](const std::string& pattern, size_t i) {
    std::string out = pattern;
    const std::string index = std::to_string(i);
    for (size_t at = out.find("{i}"); at != std::string::npos; at = out.find("{i}", at + index.size())) {
      out.replace(at, 3, index);
    }
    return out;
  };
  numbered_json = [&](const nlohmann::json& value, size_t i) -> nlohmann::json {
    if (value.is_string()) return numbered(value.get<std::string>(), i);
    nlohmann::json out = value;
    for (auto& child : out) child = numbered_json(child, i);
    return out;
  };
  size_t unit = 0;
  for (const char* key : {"text", "item", "key", "value"}) {
    if (spec.contains(key)) unit += spec[key].dump().size() + 8;
  }
  if (times > 0 && unit > kMaxBytes / times) {
    return absl::InvalidArgumentError(crisp::StrCat("$repeat: ", times, " times is more than 16 MiB"));
  }
  if (spec.contains("text")) {
    std::string out;
    const std::string& text = spec["text"].get_ref<const std::string&>();
    out.reserve(text.size() * times);
    for (size_t i = 0; i < times; ++i) out += text;
    return nlohmann::json(std::move(out));
  }
  if (spec.contains("item")) {
    nlohmann::json out = nlohmann::json::array();
    for (size_t i = 0; i < times; ++i) out.push_back(numbered_json(spec["item"], i));
    return out;
  }
  nlohmann::json out = nlohmann::json::object();
  for (size_t i = 0; i < times; ++i) out[numbered(spec["key"].get<std::string>(), i)] = numbered(spec["value"].get<std::string>(), i);
  return out;
}

}  // namespace

absl::StatusOr<nlohmann::json> ResolveFixtures(const nlohmann::json& node, const std::string& fixture_dir) {
  if (node.is_object() && node.contains("$repeat")) {
    if (node.size() != 1) return absl::InvalidArgumentError("$repeat stands alone in its map");
    return Repeat(node["$repeat"]);
  }
  if (node.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& element : node) {
      absl::StatusOr<nlohmann::json> resolved = ResolveFixtures(element, fixture_dir);
      if (!resolved.ok()) return resolved.status();
      out.push_back(*std::move(resolved));
    }
    return out;
  }
  if (!node.is_object()) return node;
  nlohmann::json out = nlohmann::json::object();
  if (auto fixture = node.find("$fixture"); fixture != node.end()) {
    if (!fixture->is_string()) return absl::InvalidArgumentError("$fixture takes a file name");
    if (fixture_dir.empty()) {
      return absl::NotFoundError("no fixtures/testdata directory found above the suite file (set fixtures:)");
    }
    std::string path = (fs::path(fixture_dir) / fixture->get<std::string>()).string();
    std::ifstream file(path);
    if (!file) return absl::NotFoundError(crisp::StrCat("fixture ", path, " does not exist"));
    std::ostringstream text;
    text << file.rdbuf();
    try {
      out = nlohmann::json::parse(text.str());
    } catch (const nlohmann::json::parse_error& error) {
      auto [line, column] = LineColumn(text.str(), error.byte == 0 ? 0 : error.byte - 1);
      std::string what = error.what();
      if (size_t colon = what.find(": "); colon != std::string::npos) what = what.substr(colon + 2);
      return absl::InvalidArgumentError(crisp::StrCat(path, ":", line, ":", column, ": not valid JSON: ", what));
    }
  }
  for (const auto& [key, value] : node.items()) {
    if (key == "$fixture") continue;
    absl::StatusOr<nlohmann::json> resolved = ResolveFixtures(value, fixture_dir);
    if (!resolved.ok()) return resolved.status();
    nlohmann::json overlay = nlohmann::json::object();
    overlay[key] = *std::move(resolved);
    DeepMerge(out, overlay);
  }
  return out;
}

LoadResult LoadSuiteText(const std::string& text, const std::string& file, const std::string& fixture_dir) {
  LoadResult result;
  LoadOne(text, file, fixture_dir, result);
  CheckDuplicateIds(result);
  return result;
}

LoadResult LoadSuites(const std::vector<std::string>& paths) {
  LoadResult result;
  std::vector<std::string> files;
  for (const std::string& path : paths) {
    std::error_code error;
    if (fs::is_directory(path, error)) {
      std::vector<std::string> found;
      for (const auto& entry : fs::recursive_directory_iterator(path, error)) {
        std::string extension = entry.path().extension().string();
        if (entry.is_regular_file() && (extension == ".yaml" || extension == ".yml")) {
          found.push_back(entry.path().string());
        }
      }
      std::sort(found.begin(), found.end());
      if (found.empty()) result.diagnostics.push_back({{path}, "no *.yaml suite files in this directory"});
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::exists(path, error)) {
      files.push_back(path);
    } else {
      result.diagnostics.push_back({{path}, "no such file or directory"});
    }
  }
  for (const std::string& file : files) {
    std::ifstream in(file);
    if (!in) {
      result.diagnostics.push_back({{file}, "cannot read this file"});
      continue;
    }
    std::ostringstream text;
    text << in.rdbuf();
    LoadOne(text.str(), file, FindFixtureDir(file), result);
  }
  // A `fixtures:` key overrides the directory found by searching.
  CheckDuplicateIds(result);
  return result;
}

}  // namespace crisp::scenario
