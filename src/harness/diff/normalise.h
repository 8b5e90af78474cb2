// Normalisation: turning what a runtime answered into a form that can be
// compared with another runtime's answer (or another run's), by removing
// what differs by design: IDs, timestamps, addresses, durations, and the
// values each run picks (its ID, name suffix, host ports).
//
// Rules apply per field path. A path is the step's RPC, "request" or
// "response", then the field names: "ContainerStatus.response.status.id".
// List elements add "[]" to their field ("ListContainers.response.containers[].id");
// log steps start with "log". In a rule, "*" matches one field name (or part
// of one) and "**" any number of them. docs/normalisation.md lists the
// built-in rules; more come from YAML files (ParseRules) and go first.
#pragma once

#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace crisp::diff {

enum class Action {
  kDrop,       // the field is left out
  kSymbol,     // an ID: "<kind>#N" by first appearance in the scenario, everywhere it occurs
  kTimestamp,  // 0 stays 0; others become "t1", "t2"... by order within one answer
  kAddress,    // "an IPv4 address", "an IPv6 address"; "" stays ""
  kTimeForm,   // an RFC 3339 time becomes its form ("RFC 3339, fraction, Z")
  kType,       // the value becomes its JSON type ("a number")
  kKeys,       // a map becomes the sorted list of its keys
  kReplace,    // a regular expression replaced in a string
  kUnordered,  // a list whose order is the runtime's: its normalised elements are sorted
  kMentioned,  // a list of image names: only those of repositories the scenario's requests name stay
};

std::string_view ActionName(Action action);

// The repository an image reference names, in full: tag and digest cut
// off, Docker Hub's implicit registry and library/ put in ("busybox:1" ->
// "docker.io/library/busybox").
std::string ImageRepository(std::string ref);

struct Rule {
  std::string path;
  Action action = Action::kDrop;
  std::string kind;         // kSymbol: "pod", "ctr", ...
  std::string pattern;      // kReplace: ECMAScript regular expression
  std::string replacement;  // kReplace: with $1... references
  std::string why;
  std::string source;       // "built-in", or file:line where the rule was read
};

// The built-in rules, in the order they are tried.
const std::vector<Rule>& DefaultRules();

// Rules from YAML: {rules: [{path, action, kind?, pattern?, with?, why?}]}.
// Errors name `source_name`:line:col.
absl::StatusOr<std::vector<Rule>> ParseRules(std::string_view yaml, std::string_view source_name);
absl::StatusOr<std::vector<Rule>> LoadRules(const std::string& path);
// The same rules as a JSON list (a scenario's normalise:, results.json's).
absl::StatusOr<std::vector<Rule>> RulesFromJson(const nlohmann::json& rules, std::string_view source_name);

// The last attempt of a results.json step, the observation its verdict
// rests on; null when there is none.
const nlohmann::json* LastObservation(const nlohmann::json& step);

// Whether a rule's path pattern matches a field path given as its field
// names. In patterns, a name with a dot in it is quoted: labels.'crisp.run-id'.
bool PathMatches(std::string_view pattern, const std::vector<std::string>& path);

class Normaliser {
 public:
  // `extra` rules are tried before the built-in ones.
  explicit Normaliser(std::vector<Rule> extra = {});

  // One scenario of a results.json (its "steps" and "substitutions"): per
  // step, what the runtime did, normalised: {"code": "OK", "response": ...}
  // for a call (the response only when OK), {"log": ...} for a log step and
  // {"host": ...} for a host step's result (paths "host.<action>....").
  // Error messages are left out: they are prose, and runtimes word them
  // differently. Only the last attempt of a step counts. The scenario's own
  // rules ("normalise", as its YAML gave them) go before all others.
  std::vector<nlohmann::json> Normalise(const nlohmann::json& scenario) const;

  struct Compiled {  // a rule, ready to match
    Rule rule;
    std::vector<std::string> segments;
    std::regex regex;  // kReplace
  };

 private:
  std::vector<Compiled> rules_;
};

}  // namespace crisp::diff
