#include "harness/report/reports.h"

#include <filesystem>
#include <fstream>
#include <map>

#include "absl/time/time.h"

#include "common/build_info.h"
#include "common/json_text.h"
#include "common/strings.h"
#include "harness/report/matrix.h"
#include "harness/report/matrix_html.h"

namespace crisp::report {
namespace {

using runner::RunResult;
using runner::ScenarioResult;
using runner::Verdict;

std::string XmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        // XML 1.0 has no place for other control characters.
        if (byte < 0x20 && c != '\n' && c != '\t' && c != '\r') {
          out += crisp::StrCat("\\x", "0123456789abcdef"[byte >> 4], "0123456789abcdef"[byte & 15]);
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string Seconds(absl::Duration duration) {
  return fmt::format("{:.3f}", absl::ToDoubleSeconds(duration));
}

std::string Time(absl::Time time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone());
}

std::string RuntimeText(const RunResult& run) {
  return crisp::StrCat(run.runtime_version.value("runtime_name", "?"), " ",
                       run.runtime_version.value("runtime_version", "?"));
}

}  // namespace

std::string StepTrace(const ScenarioResult& scenario) {
  std::string trace;
  for (const runner::StepResult& step : scenario.steps) {
    crisp::StrAppend(&trace, "step ", step.index, " ", step.name, ": ", runner::VerdictName(step.verdict),
                     step.attempts > 1 ? crisp::StrCat(" after ", step.attempts, " attempts") : "",
                     " (", Seconds(step.duration), "s)\n");
    if (!step.observations.empty()) {
      const nlohmann::json& last = step.observations.back();
      if (last.contains("code_name")) {
        crisp::StrAppend(&trace, "  ", step.method, " -> ", last["code_name"].get<std::string>(),
                         last.contains("message") ? ": " + last["message"].get<std::string>() : "", "\n");
        crisp::StrAppend(&trace, "  request: ", JsonText(last.value("request", nlohmann::json())), "\n");
        std::string response = JsonText(last.value("response", nlohmann::json()));
        if (response.size() > 2000) response = response.substr(0, 2000) + "...";
        crisp::StrAppend(&trace, "  response: ", response, "\n");
      } else if (last.contains("path")) {
        crisp::StrAppend(&trace, "  log file: ", last["path"].get<std::string>(), "\n");
      }
    }
    if (!step.message.empty()) crisp::StrAppend(&trace, "  => ", step.message, "\n");
  }
  for (const std::string& line : scenario.cleanup) crisp::StrAppend(&trace, "cleanup: ", line, "\n");
  for (const std::string& line : scenario.findings) crisp::StrAppend(&trace, "finding: ", line, "\n");
  return trace;
}

std::string JunitXml(const RunResult& run) {
  // Suites in order of first appearance.
  std::vector<std::string> order;
  std::map<std::string, std::vector<const ScenarioResult*>> by_suite;
  for (const ScenarioResult& scenario : run.scenarios) {
    if (!by_suite.count(scenario.suite)) order.push_back(scenario.suite);
    by_suite[scenario.suite].push_back(&scenario);
  }
  std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  crisp::StrAppend(&xml, "<testsuites name=\"crisp\" tests=\"", run.scenarios.size(), "\" failures=\"",
                   run.Count(Verdict::kFail), "\" errors=\"", run.Count(Verdict::kError), "\" skipped=\"",
                   run.Count(Verdict::kSkip) + run.Count(Verdict::kNotApplicable) + run.Count(Verdict::kKnown),
                   "\" time=\"", Seconds(run.end - run.start), "\" timestamp=\"",
                   Time(run.start), "\">\n");
  for (const std::string& suite : order) {
    const auto& scenarios = by_suite[suite];
    int failures = 0, errors = 0, skipped = 0;
    absl::Duration time;
    for (const ScenarioResult* scenario : scenarios) {
      failures += scenario->verdict == Verdict::kFail;
      errors += scenario->verdict == Verdict::kError;
      skipped += scenario->verdict == Verdict::kSkip || scenario->verdict == Verdict::kNotApplicable ||
                 scenario->verdict == Verdict::kKnown;
      time += scenario->duration;
    }
    crisp::StrAppend(&xml, "  <testsuite name=\"", XmlEscape(suite), "\" tests=\"", scenarios.size(),
                     "\" failures=\"", failures, "\" errors=\"", errors, "\" skipped=\"", skipped,
                     "\" time=\"", Seconds(time), "\" timestamp=\"", Time(run.start), "\" file=\"",
                     XmlEscape(scenarios.front()->file), "\">\n");
    crisp::StrAppend(&xml, "    <properties>\n");
    for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
             {"endpoint", run.endpoint.Display()},
             {"endpoint.name", run.endpoint.name},
             {"runtime", RuntimeText(run)},
             {"runtime.api_version", run.runtime_version.value("runtime_api_version", "")},
             {"run_id", run.run_id},
             {"crisp.version", kCrispVersion}}) {
      crisp::StrAppend(&xml, "      <property name=\"", name, "\" value=\"", XmlEscape(value), "\"/>\n");
    }
    crisp::StrAppend(&xml, "    </properties>\n");
    for (const ScenarioResult* scenario : scenarios) {
      crisp::StrAppend(&xml, "    <testcase classname=\"", XmlEscape(suite), "\" name=\"",
                       XmlEscape(scenario->id), ": ", XmlEscape(scenario->title), "\" file=\"",
                       XmlEscape(scenario->file), "\" time=\"", Seconds(scenario->duration), "\">\n");
      switch (scenario->verdict) {
        case Verdict::kFail:
          crisp::StrAppend(&xml, "      <failure type=\"fail\" message=\"", XmlEscape(scenario->reason),
                           "\">", XmlEscape(scenario->reason), "</failure>\n");
          break;
        case Verdict::kError:
          crisp::StrAppend(&xml, "      <error type=\"error\" message=\"", XmlEscape(scenario->reason),
                           "\">", XmlEscape(scenario->reason), "</error>\n");
          break;
        case Verdict::kSkip:
          crisp::StrAppend(&xml, "      <skipped message=\"", XmlEscape(scenario->reason), "\"/>\n");
          break;
        case Verdict::kNotApplicable:
          crisp::StrAppend(&xml, "      <skipped message=\"n.a.: ", XmlEscape(scenario->reason), "\"/>\n");
          break;
        case Verdict::kKnown:
          crisp::StrAppend(&xml, "      <skipped message=\"known failure (baseline): ", XmlEscape(scenario->baseline->reason),
                           scenario->baseline->link.empty() ? "" : " " + XmlEscape(scenario->baseline->link), "; ",
                           XmlEscape(scenario->reason), "\"/>\n");
          break;
        case Verdict::kPass: break;
      }
      crisp::StrAppend(&xml, "      <system-out>", XmlEscape(StepTrace(*scenario)), "</system-out>\n");
      crisp::StrAppend(&xml, "    </testcase>\n");
    }
    crisp::StrAppend(&xml, "  </testsuite>\n");
  }
  crisp::StrAppend(&xml, "</testsuites>\n");
  return xml;
}

nlohmann::json ResultsJson(const RunResult& run) {
  nlohmann::json scenarios = nlohmann::json::array();
  int fixed = 0;
  std::map<std::string, int> work;  // the run's, summed
  for (const ScenarioResult& scenario : run.scenarios) {
    for (const auto& [method, count] : scenario.work) work[method] += count;
    nlohmann::json steps = nlohmann::json::array();
    for (const runner::StepResult& step : scenario.steps) {
      steps.push_back({{"index", step.index},
                       {"name", step.name},
                       {"kind", step.kind},
                       {"method", step.method},
                       {"verdict", runner::VerdictName(step.verdict)},
                       {"message", step.message},
                       {"attempts", step.attempts},
                       {"duration_ms", absl::ToInt64Milliseconds(step.duration)},
                       {"observations", step.observations}});
    }
    scenarios.push_back({{"id", scenario.id},
                         {"title", scenario.title},
                         {"suite", scenario.suite},
                         {"file", scenario.file},
                         {"tags", scenario.tags},
                         {"spec_ref", scenario.spec_ref},
                         {"verdict", runner::VerdictName(scenario.verdict)},
                         {"reason", scenario.reason},
                         {"start", Time(scenario.start)},
                         {"duration_ms", absl::ToInt64Milliseconds(scenario.duration)},
                         {"steps", std::move(steps)},
                         {"cleanup", scenario.cleanup},
                         {"findings", scenario.findings},
                         {"substitutions", scenario.substitutions},
                         {"work", scenario.work}});
    if (!scenario.normalise.is_null()) scenarios.back()["normalise"] = scenario.normalise;
    if (scenario.baseline) {
      const runner::BaselineMatch& match = *scenario.baseline;
      bool stale = scenario.IsStale();
      fixed += stale;
      scenarios.back()["baseline"] = {{"reason", match.reason},
                                      {"link", match.link},
                                      {"actual", runner::VerdictName(match.actual)},
                                      {"intermittent", match.intermittent},
                                      {"fixed", stale}};
    }
  }
  return {{"schema", kResultsSchema},
          {"crisp_version", kCrispVersion},
          {"cri_api_version", kCriApiVersion},
          {"run_id", run.run_id},
          {"endpoint", {{"name", run.endpoint.name}, {"address", run.endpoint.Display()}}},
          {"runtime", run.runtime_version},
          {"node", run.node},
          {"shard", run.shard},
          {"start", Time(run.start)},
          {"end", Time(run.end)},
          {"interrupted", run.interrupted},
          {"summary",
           {{"total", run.scenarios.size()},
            {"pass", run.Count(Verdict::kPass)},
            {"fail", run.Count(Verdict::kFail)},
            {"error", run.Count(Verdict::kError)},
            {"skip", run.Count(Verdict::kSkip)},
            {"na", run.Count(Verdict::kNotApplicable)},
            {"known", run.Count(Verdict::kKnown)},
            {"fixed", fixed},
            {"work", work}}},
          {"capabilities", run.capabilities},
          {"sweep", {{"removed", run.swept}, {"failures", run.sweep_failures}}},
          {"scenarios", std::move(scenarios)}};
}

namespace {

// Reading results.json back: each accessor checks the type it expects and
// names the path of what does not fit.
class Reader {
 public:
  std::string error;

  const nlohmann::json* Field(const nlohmann::json& object, const char* key, const std::string& where,
                              nlohmann::json::value_t type) {
    if (!error.empty()) return nullptr;
    auto found = object.is_object() ? object.find(key) : object.end();
    if (!object.is_object() || found == object.end()) {
      error = crisp::StrCat(where, ".", key, " is missing");
      return nullptr;
    }
    const bool fits = found->type() == type || (type == nlohmann::json::value_t::number_integer && found->is_number_integer());
    if (!fits) {
      error = crisp::StrCat(where, ".", key, " is not a ", nlohmann::json(type).type_name());
      return nullptr;
    }
    return &*found;
  }
  std::string String(const nlohmann::json& object, const char* key, const std::string& where) {
    const nlohmann::json* value = Field(object, key, where, nlohmann::json::value_t::string);
    return value ? value->get<std::string>() : "";
  }
  int64_t Integer(const nlohmann::json& object, const char* key, const std::string& where) {
    const nlohmann::json* value = Field(object, key, where, nlohmann::json::value_t::number_integer);
    return value ? value->get<int64_t>() : 0;
  }
  absl::Time Time(const nlohmann::json& object, const char* key, const std::string& where) {
    std::string text = String(object, key, where);
    absl::Time time;
    std::string why;
    if (error.empty() && !absl::ParseTime(absl::RFC3339_full, text, &time, &why)) {
      error = crisp::StrCat(where, ".", key, " is not a time: ", why);
    }
    return time;
  }
  Verdict VerdictOf(const nlohmann::json& object, const char* key, const std::string& where) {
    std::string name = String(object, key, where);
    for (Verdict verdict : {Verdict::kPass, Verdict::kFail, Verdict::kError, Verdict::kSkip, Verdict::kNotApplicable,
                            Verdict::kKnown}) {
      if (runner::VerdictName(verdict) == name) return verdict;
    }
    if (error.empty()) error = crisp::StrCat(where, ".", key, " is not a verdict: \"", name, "\"");
    return Verdict::kError;
  }
  std::vector<std::string> Strings(const nlohmann::json& object, const char* key, const std::string& where) {
    std::vector<std::string> out;
    const nlohmann::json* list = Field(object, key, where, nlohmann::json::value_t::array);
    if (list == nullptr) return out;
    for (const nlohmann::json& item : *list) {
      if (!item.is_string()) {
        error = crisp::StrCat(where, ".", key, " holds a non-string");
        break;
      }
      out.push_back(item.get<std::string>());
    }
    return out;
  }
};

}  // namespace

absl::StatusOr<RunResult> RunFromResultsJson(const nlohmann::json& results) {
  if (!results.is_object() || results.value("schema", "") != kResultsSchema) {
    return absl::InvalidArgumentError(crisp::StrCat("not a results.json of one run (schema ", kResultsSchema, ")"));
  }
  Reader read;
  RunResult run;
  run.run_id = read.String(results, "run_id", "");
  const nlohmann::json* endpoint = read.Field(results, "endpoint", "", nlohmann::json::value_t::object);
  if (endpoint != nullptr) {
    std::string address = read.String(*endpoint, "address", ".endpoint");
    std::string name = read.String(*endpoint, "name", ".endpoint");
    // The address alone: a name may hold what an endpoint flag's may not
    // (a fleet's columns are NODE/RUNTIME).
    absl::StatusOr<client::Endpoint> parsed = client::ParseEndpoint(address);
    if (!parsed.ok() && read.error.empty()) read.error = crisp::StrCat(".endpoint: ", parsed.status().message());
    if (parsed.ok()) {
      run.endpoint = *parsed;
      run.endpoint.name = name;
    }
  }
  if (const nlohmann::json* runtime = read.Field(results, "runtime", "", nlohmann::json::value_t::object)) {
    run.runtime_version = *runtime;
  }
  // Both added within v1: older files have neither.
  if (results.contains("node")) {
    if (const nlohmann::json* node = read.Field(results, "node", "", nlohmann::json::value_t::object)) run.node = *node;
  }
  if (results.contains("shard")) run.shard = read.String(results, "shard", "");
  run.start = read.Time(results, "start", "");
  run.end = read.Time(results, "end", "");
  if (const nlohmann::json* interrupted = read.Field(results, "interrupted", "", nlohmann::json::value_t::boolean)) {
    run.interrupted = interrupted->get<bool>();
  }
  if (results.contains("capabilities")) run.capabilities = results["capabilities"];
  if (const nlohmann::json* sweep = read.Field(results, "sweep", "", nlohmann::json::value_t::object)) {
    run.swept = static_cast<int>(read.Integer(*sweep, "removed", ".sweep"));
    run.sweep_failures = read.Strings(*sweep, "failures", ".sweep");
  }
  const nlohmann::json* scenarios = read.Field(results, "scenarios", "", nlohmann::json::value_t::array);
  for (size_t i = 0; scenarios != nullptr && i < scenarios->size() && read.error.empty(); ++i) {
    const nlohmann::json& in = (*scenarios)[i];
    const std::string where = crisp::StrCat(".scenarios[", i, "]");
    ScenarioResult scenario;
    scenario.id = read.String(in, "id", where);
    scenario.title = read.String(in, "title", where);
    scenario.suite = read.String(in, "suite", where);
    scenario.file = read.String(in, "file", where);
    scenario.tags = read.Strings(in, "tags", where);
    scenario.spec_ref = read.String(in, "spec_ref", where);
    scenario.verdict = read.VerdictOf(in, "verdict", where);
    scenario.reason = read.String(in, "reason", where);
    scenario.start = read.Time(in, "start", where);
    scenario.duration = absl::Milliseconds(read.Integer(in, "duration_ms", where));
    scenario.cleanup = read.Strings(in, "cleanup", where);
    if (in.contains("findings")) scenario.findings = read.Strings(in, "findings", where);
    if (const nlohmann::json* work = in.contains("work") ? read.Field(in, "work", where, nlohmann::json::value_t::object)
                                                         : nullptr) {
      for (const auto& [method, count] : work->items()) {
        if (count.is_number_integer()) scenario.work[method] = count.get<int>();
      }
    }
    if (const nlohmann::json* substitutions = read.Field(in, "substitutions", where, nlohmann::json::value_t::object)) {
      for (const auto& [value, symbol] : substitutions->items()) {
        if (symbol.is_string()) scenario.substitutions[value] = symbol.get<std::string>();
      }
    }
    if (in.contains("normalise")) scenario.normalise = in["normalise"];
    if (in.contains("baseline")) {
      const nlohmann::json& baseline = in["baseline"];
      runner::BaselineMatch match;
      match.reason = read.String(baseline, "reason", where + ".baseline");
      match.link = read.String(baseline, "link", where + ".baseline");
      match.actual = read.VerdictOf(baseline, "actual", where + ".baseline");
      // Absent in results written before it existed: not intermittent.
      match.intermittent = baseline.is_object() && baseline.contains("intermittent") &&
                           baseline["intermittent"].is_boolean() && baseline["intermittent"].get<bool>();
      scenario.baseline = match;
    }
    const nlohmann::json* steps = read.Field(in, "steps", where, nlohmann::json::value_t::array);
    for (size_t k = 0; steps != nullptr && k < steps->size() && read.error.empty(); ++k) {
      const nlohmann::json& step_in = (*steps)[k];
      const std::string step_where = crisp::StrCat(where, ".steps[", k, "]");
      runner::StepResult step;
      step.index = static_cast<int>(read.Integer(step_in, "index", step_where));
      step.name = read.String(step_in, "name", step_where);
      step.kind = read.String(step_in, "kind", step_where);
      step.method = read.String(step_in, "method", step_where);
      step.verdict = read.VerdictOf(step_in, "verdict", step_where);
      step.message = read.String(step_in, "message", step_where);
      step.attempts = static_cast<int>(read.Integer(step_in, "attempts", step_where));
      step.duration = absl::Milliseconds(read.Integer(step_in, "duration_ms", step_where));
      if (const nlohmann::json* observations =
              read.Field(step_in, "observations", step_where, nlohmann::json::value_t::array)) {
        step.observations.assign(observations->begin(), observations->end());
      }
      scenario.steps.push_back(std::move(step));
    }
    run.scenarios.push_back(std::move(scenario));
  }
  if (!read.error.empty()) return absl::InvalidArgumentError(crisp::StrCat("results.json: ", read.error));
  return run;
}

absl::Status WriteFiles(const std::string& directory, const std::vector<std::pair<std::string, std::string>>& files) {
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) return absl::InternalError(crisp::StrCat("cannot create ", directory, ": ", error.message()));
  for (const auto& [name, content] : files) {
    std::string path = (std::filesystem::path(directory) / name).string();
    std::string temporary = path + ".tmp";
    {
      std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
      out << content;
      if (!out.flush()) return absl::InternalError(crisp::StrCat("cannot write ", temporary));
    }
    std::filesystem::rename(temporary, path, error);
    if (error) return absl::InternalError(crisp::StrCat("cannot rename ", temporary, ": ", error.message()));
  }
  return absl::OkStatus();
}

absl::Status WriteReports(const RunResult& run, const std::string& directory) {
  // report.html is matrix.html with one column: the same page for people.
  std::vector<RunResult> one = {run};
  Matrix matrix = BuildMatrix(one, diff::Normaliser());
  return WriteFiles(directory, {{"junit.xml", JunitXml(run)},
                                {"results.json", JsonText(ResultsJson(run), 2) + "\n"},
                                {"report.html", MatrixHtml(MatrixJson(matrix))}});
}

}  // namespace crisp::report
