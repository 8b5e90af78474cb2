#include "harness/diff/normalise.h"

#include <arpa/inet.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "absl/status/status.h"
#include "common/strings.h"
#include "common/yaml_document.h"

namespace crisp::diff {

using nlohmann::json;

namespace {

constexpr std::pair<Action, std::string_view> kActionNames[] = {
    {Action::kDrop, "drop"},     {Action::kSymbol, "symbol"},  {Action::kTimestamp, "timestamp"},
    {Action::kAddress, "address"}, {Action::kTimeForm, "time-form"}, {Action::kType, "type"},
    {Action::kKeys, "keys"},     {Action::kReplace, "replace"}, {Action::kUnordered, "unordered"},
    {Action::kMentioned, "mentioned"},
};



std::vector<std::string> SplitPattern(std::string_view pattern) {
  std::vector<std::string> segments;
  std::string current;
  bool quoted = false;
  for (char c : pattern) {
    if (c == '\'') {
      quoted = !quoted;
    } else if (c == '.' && !quoted) {
      segments.push_back(std::move(current));
      current.clear();
    } else {
      current += c;
    }
  }
  segments.push_back(std::move(current));
  return segments;
}

bool Matches(const std::vector<std::string>& pattern, size_t i, const std::vector<std::string>& path, size_t j) {
  if (i == pattern.size()) return j == path.size();
  if (pattern[i] == "**") {
    for (size_t k = j; k <= path.size(); ++k) {
      if (Matches(pattern, i + 1, path, k)) return true;
    }
    return false;
  }
  return j < path.size() && crisp::GlobMatch(pattern[i], path[j]) && Matches(pattern, i + 1, path, j + 1);
}

Rule Builtin(std::string path, Action action, std::string why, std::string kind = "") {
  return Rule{std::move(path), action, std::move(kind), "", "", std::move(why), "built-in"};
}

Rule Replace(std::string path, std::string pattern, std::string with, std::string why) {
  return Rule{std::move(path), Action::kReplace, "", std::move(pattern), std::move(with), std::move(why), "built-in"};
}

std::string TimeForm(const std::string& value) {
  static const std::regex rfc3339(R"(^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|z|[+-]\d{2}:\d{2})$)");
  std::smatch match;
  if (!std::regex_match(value, match, rfc3339)) return "not RFC 3339";
  std::string form = "RFC 3339";
  if (match[1].matched) form += ", fraction";
  std::string zone = match[2].str();
  form += zone == "Z" || zone == "z" ? ", Z" : ", offset " + zone;
  return form;
}

std::string TypeName(const json& value) {
  switch (value.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::string: return "a string";
    case json::value_t::object: return "an object";
    case json::value_t::array: return "a list";
    default: return "a number";
  }
}

std::string Address(const std::string& value) {
  if (value.empty()) return "";
  unsigned char buffer[16];
  if (inet_pton(AF_INET, value.c_str(), buffer) == 1) return "an IPv4 address";
  if (inet_pton(AF_INET6, value.c_str(), buffer) == 1) return "an IPv6 address";
  return "not an address";
}

}  // namespace

// A field of results.json read with care: it may come from a file a person
// edited (crisp diff, crisp report), so a value of another type reads as
// the default instead of throwing.
std::string TextOf(const json& object, const char* key, const char* fallback = "") {
  if (!object.is_object() || !object.contains(key) || !object[key].is_string()) return fallback;
  return object[key].get<std::string>();
}
bool FlagOf(const json& object, const char* key) {
  return object.is_object() && object.contains(key) && object[key].is_boolean() && object[key].get<bool>();
}

const json* LastObservation(const json& step) {
  if (!step.is_object() || !step.contains("observations")) return nullptr;
  const json& observations = step["observations"];
  if (!observations.is_array() || observations.empty() || !observations.back().is_object()) return nullptr;
  return &observations.back();
}

std::string_view ActionName(Action action) {
  for (const auto& [value, name] : kActionNames) {
    if (value == action) return name;
  }
  return "?";
}

bool PathMatches(std::string_view pattern, const std::vector<std::string>& path) {
  return Matches(SplitPattern(pattern), 0, path, 0);
}

const std::vector<Rule>& DefaultRules() {
  static const std::vector<Rule> rules = {
      // IDs the runtime picks. Image IDs are not here: they are digests of
      // content, and runtimes must agree on them.
      Builtin("**.pod_sandbox_id", Action::kSymbol, "pod sandbox IDs are the runtime's choice", "pod"),
      Builtin("PodSandboxStatus.response.status.id", Action::kSymbol, "pod sandbox IDs are the runtime's choice", "pod"),
      Builtin("ListPodSandbox.response.items[].id", Action::kSymbol, "pod sandbox IDs are the runtime's choice", "pod"),
      Builtin("*Stats.response.**.attributes.id", Action::kSymbol, "IDs in stats are the runtime's choice", "obj"),
      Builtin("**.container_id", Action::kSymbol, "container IDs are the runtime's choice", "ctr"),
      Builtin("ContainerStatus.response.status.id", Action::kSymbol, "container IDs are the runtime's choice", "ctr"),
      Builtin("ListContainers.response.containers[].id", Action::kSymbol, "container IDs are the runtime's choice", "ctr"),
      // Times: whether set, and in which order, is behaviour; the value is not.
      Builtin("**.created_at", Action::kTimestamp, "a time; its order against the others in the answer is kept"),
      Builtin("**.started_at", Action::kTimestamp, "a time; its order against the others in the answer is kept"),
      Builtin("**.finished_at", Action::kTimestamp, "a time; its order against the others in the answer is kept"),
      Builtin("**.timestamp", Action::kTimestamp, "a time; its order against the others in the answer is kept"),
      Builtin("log.entries[].time", Action::kTimeForm, "log record times: the form is behaviour, the value is not"),
      Builtin("log.path", Action::kDrop, "where the harness found the log file"),
      Replace("log.**", R"((\d{4}-\d{2}-\d{2}[T ])?\b\d{1,2}:\d{2}:\d{2}([.,]\d+)?(Z|[+-]\d{2}:?\d{2})?)", "<time>",
              "a time inside what a program logged is the program's clock, not the runtime's behaviour"),
      // Streaming URLs: the server's address and port, and the one-use
      // token, are the runtime's choice; the scheme (the URL's form) and
      // the kind of session are behaviour.
      Replace("*.response.url", R"(^([a-z]+:)?//[^/]+/(?:[^/]*/)*?(exec|attach|portforward)/[^/?#]+.*$)",
              "$1//<server>/$2/<token>",
              "a streaming URL's host, port and token are the runtime's choice; its scheme and kind are kept"),
      // What a web server in a pod answered through a port forward: its
      // clock's HTTP dates are not the runtime's behaviour.
      Replace("host.port_forward.**", R"(\b(Date|Expires): [^\r\n]*)", "$1: <http-date>",
              "HTTP dates in a forwarded answer are the web server's clock"),
      // A CRI log file read whole by a host step: its record times are the
      // runtime's clock, as in log steps (the form stays: "Z" or an offset).
      Replace("host.stat.content", R"((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})? )",
              "<time>$3 ", "record times in a log file are the runtime's clock; the zone's form is kept"),
      // Kernel-numbered things a command inside a container printed: the
      // inode of a namespace, a ping's round-trip times.
      Replace("ExecSync.response.stdout", R"(\b(pid|net|ipc|uts|mnt|user|cgroup|time):\[\d+\])", "$1:[<inode>]",
              "a namespace's inode number is the kernel's; whether two are the same is checked by the scenario"),
      Replace("ExecSync.response.stdout", R"((time=|min/avg/max = )[\d./]+ ms)", "$1<ms> ms",
              "a ping's round-trip times are the machine's"),
      Builtin("host.tcp_listen.port", Action::kType, "a free port the kernel picked for the run"),
      // The v4 Status of an exec: its reason and causes are behaviour, the
      // message is the server's free text.
      Replace("host.stream.status", R"("message":"(?:[^"\\]|\\.)*")", R"("message":"<text>")",
              "a Status message is free text; status, reason and causes are kept"),
      // What a stream carried after its until: text came in the same read.
      Builtin("host.stream.after_until", Action::kDrop,
              "what a stream carried after its until: text came in the same read only by the timing of reads"),
      // Where a runtime keeps its files is its own choice; that there is
      // an absolute path is behaviour.
      Replace("**.fs_id.mountpoint", "^/.*$", "<absolute path>", "where a runtime keeps its files is its choice"),
      // Lists whose order the CRI leaves to the runtime.
      Builtin("ListPodSandbox.response.items", Action::kUnordered, "the CRI gives List* answers no order"),
      Builtin("ListContainers.response.containers", Action::kUnordered, "the CRI gives List* answers no order"),
      Builtin("ListContainerStats.response.stats", Action::kUnordered, "the CRI gives List* answers no order"),
      Builtin("ListPodSandboxStats.response.stats", Action::kUnordered, "the CRI gives List* answers no order"),
      Builtin("ListPodSandboxMetrics.response.pod_metrics", Action::kUnordered, "the CRI gives List* answers no order"),
      // Addresses come from each runtime's own pod network.
      Builtin("**.network.ip", Action::kAddress, "pod IPs come from each runtime's pod network"),
      Builtin("**.network.additional_ips[].ip", Action::kAddress, "pod IPs come from each runtime's pod network"),
      // Amounts measured while running: CPU time, memory, disk use.
      Builtin("*Stats.response.**.value", Action::kType, "usage measured at one moment"),
      Builtin("ImageFsInfo.response.**.value", Action::kType, "usage measured at one moment"),
      // Who the runtime is, and what it is free to say.
      Builtin("Version.response.version", Action::kDrop, "the runtime's own version"),
      Builtin("Version.response.runtime_name", Action::kDrop, "the runtime's own name"),
      Builtin("Version.response.runtime_version", Action::kDrop, "the runtime's own version"),
      Builtin("**.info", Action::kKeys, "verbose info is free-form per runtime; which keys it has is kept"),
      Builtin("ListImages.response.images", Action::kType, "the whole image store, which other runs change too"),
      Builtin("ImageStatus.response.image.repo_tags", Action::kMentioned,
              "other names of the same content come from what else the run pulled, and when"),
      Builtin("ImageStatus.response.image.repo_digests", Action::kMentioned,
              "other names of the same content come from what else the run pulled, and when"),
  };
  return rules;
}

absl::StatusOr<std::vector<Rule>> ParseRules(std::string_view yaml, std::string_view source_name) {
  auto where = [&](const YAML::Node& node) { return YamlWhere(source_name, node); };
  absl::StatusOr<YAML::Node> parsed = ParseYaml(yaml, source_name);
  if (!parsed.ok()) return parsed.status();
  const YAML::Node& root = *parsed;
  return GuardYaml<std::vector<Rule>>(source_name, [&]() -> absl::StatusOr<std::vector<Rule>> {
    if (!root.IsMap() || !root["rules"] || !root["rules"].IsSequence()) {
      return absl::InvalidArgumentError(crisp::StrCat(source_name, ":1:1: expected a map with rules: (a list)"));
    }
    std::vector<Rule> rules;
    for (const YAML::Node& node : root["rules"]) {
      if (!node.IsMap()) return absl::InvalidArgumentError(where(node) + ": a rule is a map (path, action, ...)");
      for (const auto& entry : node) {
        std::string key = entry.first.as<std::string>();
        if (key != "path" && key != "action" && key != "kind" && key != "pattern" && key != "with" && key != "why") {
          return absl::InvalidArgumentError(crisp::StrCat(where(entry.first), ": unknown key \"", key,
                                                          "\" (path, action, kind, pattern, with, why)"));
        }
        if (!entry.second.IsScalar()) {
          return absl::InvalidArgumentError(crisp::StrCat(where(entry.second), ": ", key, " must be text"));
        }
      }
      Rule rule;
      rule.source = where(node);
      if (!node["path"] || node["path"].as<std::string>().empty()) {
        return absl::InvalidArgumentError(where(node) + ": a rule needs a path");
      }
      rule.path = node["path"].as<std::string>();
      std::string action = node["action"] ? node["action"].as<std::string>() : "";
      auto found = std::find_if(std::begin(kActionNames), std::end(kActionNames),
                                [&](const auto& named) { return named.second == action; });
      if (found == std::end(kActionNames)) {
        std::string known;
        for (const auto& [value, name] : kActionNames) crisp::StrAppend(&known, known.empty() ? "" : ", ", name);
        return absl::InvalidArgumentError(crisp::StrCat(where(node["action"] ? node["action"] : node),
                                                        ": action must be one of ", known));
      }
      rule.action = found->first;
      if (node["why"]) rule.why = node["why"].as<std::string>();
      if (rule.action == Action::kSymbol) {
        if (!node["kind"]) return absl::InvalidArgumentError(where(node) + ": a symbol rule needs a kind (pod, ctr, ...)");
        rule.kind = node["kind"].as<std::string>();
      }
      if (rule.action == Action::kReplace) {
        if (!node["pattern"]) return absl::InvalidArgumentError(where(node) + ": a replace rule needs a pattern");
        rule.pattern = node["pattern"].as<std::string>();
        rule.replacement = node["with"] ? node["with"].as<std::string>() : "";
        try {
          std::regex check(rule.pattern);
        } catch (const std::regex_error& error) {
          return absl::InvalidArgumentError(crisp::StrCat(where(node["pattern"]), ": bad regular expression: ", error.what()));
        }
      }
      rules.push_back(std::move(rule));
    }
    return rules;
  });
}

absl::StatusOr<std::vector<Rule>> LoadRules(const std::string& path) {
  absl::StatusOr<std::string> text = ReadConfigFile(path, "rules file");
  if (!text.ok()) return text.status();
  return ParseRules(*text, path);
}

absl::StatusOr<std::vector<Rule>> RulesFromJson(const nlohmann::json& rules, std::string_view source_name) {
  if (!rules.is_array()) return absl::InvalidArgumentError(crisp::StrCat(source_name, ": normalise: is a list of rules"));
  // JSON is YAML's flow style: the YAML reader checks it all.
  return ParseRules(crisp::StrCat("rules: ", rules.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)),
                    source_name);
}

Normaliser::Normaliser(std::vector<Rule> extra) {
  for (const std::vector<Rule>* list : std::initializer_list<const std::vector<Rule>*>{&extra, &DefaultRules()}) {
    for (const Rule& rule : *list) {
      rules_.push_back({rule, SplitPattern(rule.path),
                        rule.action == Action::kReplace ? std::regex(rule.pattern) : std::regex()});
    }
  }
}

namespace {

// The state of normalising one scenario.
class Pass {
 public:
  using RuleList = std::vector<Normaliser::Compiled>;

  Pass(const RuleList& rules, const json& scenario) : rules_(rules) {
    if (scenario.contains("substitutions") && scenario["substitutions"].is_object()) {
      for (const auto& [value, symbol] : scenario["substitutions"].items()) {
        if (symbol.is_string() && !value.empty()) replacements_.emplace_back(value, symbol.get<std::string>());
      }
    }
  }

  // The first rule whose pattern matches the path (none: nullptr).
  const Normaliser::Compiled* RuleFor(const std::vector<std::string>& path) const {
    for (const Normaliser::Compiled& rule : rules_) {
      if (Matches(rule.segments, 0, path, 0)) return &rule;
    }
    return nullptr;
  }

  // First pass over an answer: IDs get symbols in the order they appear.
  // An ID first seen inside an unordered list (a List* answer) is of an
  // object the scenario never made: another scenario's, running beside it.
  // It is a stranger and gets no symbol (its element is left out later),
  // so it cannot shift the numbers of the scenario's own objects.
  void Collect(const json& node, std::vector<std::string>& path, bool in_list = false) {
    if (node.is_object()) {
      for (const auto& [key, value] : node.items()) {
        path.push_back(key);
        Collect(value, path, in_list);
        path.pop_back();
      }
      return;
    }
    if (node.is_array()) {
      const Normaliser::Compiled* list_rule = RuleFor(path);
      in_list = in_list || (list_rule != nullptr && list_rule->rule.action == Action::kUnordered);
      std::string saved = path.back();
      path.back() += "[]";
      for (const json& element : node) Collect(element, path, in_list);
      path.back() = saved;
      return;
    }
    if (!node.is_string() || node.get<std::string>().empty()) return;
    const Normaliser::Compiled* rule = RuleFor(path);
    if (rule == nullptr || rule->rule.action != Action::kSymbol) return;
    const std::string& id = node.get_ref<const std::string&>();
    if (symbols_.count(id) || strangers_.count(id)) return;
    if (in_list) {
      strangers_.insert(id);
      return;
    }
    symbols_[id] = crisp::StrCat(rule->rule.kind, "#", ++counts_[rule->rule.kind]);
  }

  // The repositories of every string in a request (see ImageRepository): the
  // image names the scenario itself used.
  void Mention(const json& node) {
    if (node.is_string()) {
      if (!node.get_ref<const std::string&>().empty()) mentioned_.insert(ImageRepository(node.get<std::string>()));
    } else if (node.is_object() || node.is_array()) {
      for (const json& child : node) Mention(child);
    }
  }

  // Ranks of the times in one answer, among those Transform keeps.
  void Rank(const json& node, std::vector<std::string>& path, std::set<json>& times) {
    const Normaliser::Compiled* rule = RuleFor(path);
    if (rule != nullptr && ReplacesSubtree(rule->rule.action)) return;
    if (node.is_object()) {
      for (const auto& [key, value] : node.items()) {
        path.push_back(key);
        Rank(value, path, times);
        path.pop_back();
      }
    } else if (node.is_array()) {
      std::string saved = path.back();
      path.back() += "[]";
      for (const json& element : node) Rank(element, path, times);
      path.back() = saved;
    } else if (rule != nullptr && rule->rule.action == Action::kTimestamp && !IsZero(node)) {
      times.insert(node);
    }
  }

  // Once every ID of the scenario is known: longest values first, so that
  // a value inside another does not break it.
  void Freeze() {
    for (const auto& [id, symbol] : symbols_) replacements_.emplace_back(id, symbol);
    std::stable_sort(replacements_.begin(), replacements_.end(),
                     [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  }

  json NormaliseAnswer(const json& answer, std::vector<std::string>& path) {
    std::set<json> times;
    Rank(answer, path, times);
    ranks_.clear();
    int rank = 0;
    for (const json& time : times) ranks_[time] = ++rank;
    json out = answer;
    Transform(out, path);
    return out;
  }

 private:
  static bool IsZero(const json& value) {
    return (value.is_number() && value.get<double>() == 0) || (value.is_string() && value.get<std::string>().empty());
  }

  std::string Substitute(std::string text) const {
    for (const auto& [value, symbol] : replacements_) {
      for (size_t at = text.find(value); at != std::string::npos; at = text.find(value, at + symbol.size())) {
        text.replace(at, value.size(), symbol);
      }
    }
    return text;
  }

  // Returns false when the field is to be left out.
  bool Transform(json& node, std::vector<std::string>& path) {
    const Normaliser::Compiled* rule = RuleFor(path);
    const bool scalar = !node.is_object() && !node.is_array();
    if (rule != nullptr && (scalar || ReplacesSubtree(rule->rule.action))) {
      switch (rule->rule.action) {
        case Action::kDrop: return false;
        case Action::kSymbol:
          if (node.is_string()) node = Substitute(node.get<std::string>());
          return true;
        case Action::kTimestamp:
          if (!IsZero(node)) node = crisp::StrCat("t", ranks_[node]);
          return true;
        case Action::kAddress:
          node = node.is_string() ? Address(node.get<std::string>()) : TypeName(node);
          return true;
        case Action::kTimeForm:
          node = node.is_string() ? TimeForm(node.get<std::string>()) : TypeName(node);
          return true;
        case Action::kType:
          node = TypeName(node);
          return true;
        case Action::kKeys:
          if (node.is_object()) {
            json keys = json::array();
            for (const auto& [key, value] : node.items()) keys.push_back(key);
            node = keys;
          } else {
            node = TypeName(node);
          }
          return true;
        case Action::kReplace:
          // Every replace rule of this path, in order: one field may carry
          // several kinds of noise. Not a string: handled as if no rule.
          if (!node.is_string()) break;
          {
            std::string text = node.get<std::string>();
            for (const Normaliser::Compiled& other : rules_) {
              if (other.rule.action == Action::kReplace && Matches(other.segments, 0, path, 0)) {
                text = std::regex_replace(text, other.regex, other.rule.replacement);
              }
            }
            node = Substitute(std::move(text));
          }
          return true;
        case Action::kUnordered:
        case Action::kMentioned:
          break;  // a list: handled with its elements, below
      }
    }
    if (node.is_object()) {
      std::vector<std::string> dropped;
      for (auto& [key, value] : node.items()) {
        path.push_back(key);
        if (!Transform(value, path)) dropped.push_back(key);
        path.pop_back();
      }
      for (const std::string& key : dropped) node.erase(key);
    } else if (node.is_array()) {
      std::string saved = path.back();
      path.back() += "[]";
      const bool unordered = rule != nullptr && rule->rule.action == Action::kUnordered;
      json kept = json::array();
      for (json& element : node) {
        if (unordered && NamesAStranger(element)) continue;  // which strangers a list shows is timing
        if (rule != nullptr && rule->rule.action == Action::kMentioned && element.is_string() &&
            !mentioned_.count(ImageRepository(element.get<std::string>()))) {
          continue;  // another name of the same content, which the scenario never used
        }
        if (Transform(element, path)) kept.push_back(std::move(element));
      }
      node = std::move(kept);
      path.back() = saved;
      if (unordered || (rule != nullptr && rule->rule.action == Action::kMentioned)) {
        // IDs are symbols by now, numbered where the scenario made them,
        // so equal lists sort alike whatever order they came in.
        std::sort(node.begin(), node.end(), [](const json& a, const json& b) { return a.dump() < b.dump(); });
      }
    } else if (node.is_string()) {
      node = Substitute(node.get<std::string>());
    } else if (node.is_number_integer()) {
      const std::string text = node.dump();
      for (const auto& [value, symbol] : replacements_) {
        if (value == text) {
          node = symbol;
          break;
        }
      }
    }
    return true;
  }

  // Whether any string in `node` is a stranger's ID (see Collect).
  bool NamesAStranger(const json& node) const {
    if (node.is_string()) return strangers_.count(node.get_ref<const std::string&>()) > 0;
    if (node.is_object() || node.is_array()) {
      for (const json& child : node) {
        if (NamesAStranger(child)) return true;
      }
    }
    return false;
  }

  // Actions that replace a whole subtree (a map or list included).
  static bool ReplacesSubtree(Action action) {
    return action == Action::kDrop || action == Action::kKeys || action == Action::kType;
  }

  const RuleList& rules_;
  std::vector<std::pair<std::string, std::string>> replacements_;
  std::map<std::string, std::string> symbols_;
  std::set<std::string> strangers_;  // IDs first seen in a List* answer
  std::set<std::string> mentioned_;  // repositories the scenario's requests name
  std::map<std::string, int> counts_;
  std::map<json, int> ranks_;
};

}  // namespace

std::vector<json> Normaliser::Normalise(const json& scenario) const {
  std::vector<json> out;
  if (!scenario.contains("steps") || !scenario["steps"].is_array()) return out;
  const json& steps = scenario["steps"];
  // The scenario's own rules first (a bad one was refused when it loaded).
  std::vector<Compiled> scenario_rules;
  if (scenario.contains("normalise") && scenario["normalise"].is_array() && !scenario["normalise"].empty()) {
    absl::StatusOr<std::vector<Rule>> own = RulesFromJson(scenario["normalise"], TextOf(scenario, "id", "scenario"));
    if (own.ok()) {
      for (const Rule& rule : *own) {
        scenario_rules.push_back({rule, SplitPattern(rule.path),
                                  rule.action == Action::kReplace ? std::regex(rule.pattern) : std::regex()});
      }
      scenario_rules.insert(scenario_rules.end(), rules_.begin(), rules_.end());
    }
  }
  Pass pass(scenario_rules.empty() ? rules_ : scenario_rules, scenario);
  auto root = [](const json& step, std::string_view part) {
    std::string method = TextOf(step, "method");
    return std::vector<std::string>{method.empty() ? "log" : method, std::string(part)};
  };
  for (const json& step : steps) {
    const json* last = LastObservation(step);
    if (last == nullptr) continue;
    for (std::string_view part : {"request", "response"}) {
      if (last->contains(part)) {
        std::vector<std::string> path = root(step, part);
        pass.Collect((*last)[part], path);
      }
    }
  }
  pass.Freeze();
  for (const json& step : steps) {
    const json* last = LastObservation(step);
    if (last != nullptr && last->contains("request")) pass.Mention((*last)["request"]);
  }
  for (const json& step : steps) {
    const json* last = LastObservation(step);
    json behaviour = json::object();
    if (last == nullptr) {
      out.push_back(std::move(behaviour));
      continue;
    }
    if (FlagOf(*last, "skipped")) {
      behaviour["code"] = "skipped";  // when: was false
    } else if (last->contains("log")) {
      std::vector<std::string> path = {"log"};
      behaviour["log"] = pass.NormaliseAnswer((*last)["log"], path);
    } else if (last->contains("host")) {
      // A host step: its result, under "host.<action>"; none when the
      // action itself could not be done.
      if (last->contains("result")) {
        std::vector<std::string> path = {"host", TextOf(*last, "host")};
        behaviour["host"] = pass.NormaliseAnswer((*last)["result"], path);
      } else {
        behaviour["code"] = "harness error";
      }
    } else {
      behaviour["code"] = TextOf(*last, "code_name");
      if (last->contains("response") && !(*last)["response"].is_null()) {
        std::vector<std::string> path = root(step, "response");
        behaviour["response"] = pass.NormaliseAnswer((*last)["response"], path);
      }
    }
    out.push_back(std::move(behaviour));
  }
  return out;
}

std::string ImageRepository(std::string ref) {
  ref = ref.substr(0, ref.find('@'));
  size_t colon = ref.rfind(':');
  size_t slash = ref.rfind('/');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) ref.resize(colon);
  size_t first = ref.find('/');
  if (first == std::string::npos) return "docker.io/library/" + ref;
  std::string domain = ref.substr(0, first);
  if (domain.find_first_of(".:") == std::string::npos && domain != "localhost") return "docker.io/" + ref;
  return ref;
}

}  // namespace crisp::diff
