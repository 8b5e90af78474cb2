#include "harness/cli/suite_commands.h"

#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <filesystem>
#include <memory>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

#include "common/json_text.h"
#include "common/strings.h"
#include "harness/bench/bench.h"
#include "harness/bench/bench_html.h"
#include "harness/bench/density.h"
#include "harness/cli/app.h"
#include "harness/client/proto_json.h"
#include "harness/diff/run_diff.h"
#include "harness/report/coverage.h"
#include "harness/runner/node.h"
#include "harness/report/fleet.h"
#include "harness/report/matrix.h"
#include "harness/report/reports.h"
#include "harness/runner/baseline.h"
#include "harness/runner/runner.h"
#include "harness/scenario/loader.h"
#include "harness/scenario/portability.h"
#include "harness/scenario/shard.h"

namespace crisp::cli {
namespace {

using runner::ScenarioResult;
using runner::Verdict;
using scenario::Scenario;

struct Selection {
  std::vector<std::string> suites;
  std::string focus;
  std::string skip;
  std::vector<std::string> tags;
  std::string critest_key;
  std::string shard;  // "K/N", or "" for all
};

void AddSelectionFlags(CLI::App* command, Selection& selection) {
  command->add_option("-s,--suite", selection.suites,
                      "Suite file or directory (repeatable; default: suites/)");
  command->add_option("--focus", selection.focus,
                      "Only scenarios whose \"id title\" matches this regular expression");
  command->add_option("--skip", selection.skip,
                      "Leave out scenarios whose \"id title\" matches this regular expression");
  command->add_option("-t,--tag", selection.tags, "Only scenarios with this tag (repeatable: any of them)");
  command->add_option("--critest-key", selection.critest_key,
                      "Only scenarios covering a critest spec whose key matches this glob (\"*\": the critest-parity "
                      "set; keys in docs/critest-v1.26.1.yaml and docs/critest-head.yaml)");
  command->add_option("--shard", selection.shard,
                      "Only shard K of N (K/N) of the selected scenarios, split by a hash of the ID: N jobs with "
                      "1/N..N/N run each scenario once, and crisp merge folds their results");
}

// Loads the suites and applies the filters. The error holds every
// diagnostic, one per line.
struct Selected {
  scenario::LoadResult loaded;
  std::vector<const Scenario*> scenarios;
};

absl::StatusOr<Selected> Select(const Selection& selection) {
  std::vector<std::string> paths = selection.suites;
  if (paths.empty()) {
    if (!std::filesystem::is_directory("suites")) {
      return absl::InvalidArgumentError("no --suite given and no suites/ directory here");
    }
    paths.push_back("suites");
  }
  std::optional<scenario::Shard> shard;
  if (!selection.shard.empty()) {
    absl::StatusOr<scenario::Shard> parsed = scenario::ParseShard(selection.shard);
    if (!parsed.ok()) return parsed.status();
    shard = *parsed;
  }
  std::optional<std::regex> focus, skip;
  try {
    if (!selection.focus.empty()) focus.emplace(selection.focus);
    if (!selection.skip.empty()) skip.emplace(selection.skip);
  } catch (const std::regex_error& error) {
    return absl::InvalidArgumentError(crisp::StrCat("--focus/--skip: bad regular expression: ", error.what()));
  }
  Selected selected{scenario::LoadSuites(paths), {}};
  if (!selected.loaded.ok()) {
    std::string message = crisp::StrCat(selected.loaded.diagnostics.size(),
                                        " problem(s) in the suites; nothing was run (crisp validate checks them):");
    for (const auto& diagnostic : selected.loaded.diagnostics) crisp::StrAppend(&message, "\n", diagnostic.ToString());
    return absl::InvalidArgumentError(message);
  }
  for (const scenario::Suite& suite : selected.loaded.suites) {
    for (const Scenario& scenario : suite.scenarios) {
      std::string text = scenario.id + " " + scenario.title;
      if (focus && !std::regex_search(text, *focus)) continue;
      if (skip && std::regex_search(text, *skip)) continue;
      if (!selection.tags.empty() &&
          std::none_of(scenario.tags.begin(), scenario.tags.end(), [&](const std::string& tag) {
            return std::find(selection.tags.begin(), selection.tags.end(), tag) != selection.tags.end();
          })) {
        continue;
      }
      if (!selection.critest_key.empty() &&
          std::none_of(scenario.critest.begin(), scenario.critest.end(), [&](const std::string& key) {
            return crisp::GlobMatch(selection.critest_key, key);
          })) {
        continue;
      }
      if (shard && !scenario::InShard(scenario.id, *shard)) continue;
      selected.scenarios.push_back(&scenario);
    }
  }
  return selected;
}

// --- progress on the console ---

std::string_view Label(Verdict verdict) {
  switch (verdict) {
    case Verdict::kPass: return "PASS ";
    case Verdict::kFail: return "FAIL ";
    case Verdict::kError: return "ERROR";
    case Verdict::kSkip: return "SKIP ";
    case Verdict::kNotApplicable: return "N/A  ";
    case Verdict::kKnown: return "KNOWN";
  }
  return "?";
}

// On a terminal: one status line, redrawn, naming what runs now, with a
// line per finished scenario above it. Otherwise: just the finished lines.
// Several runtimes may report at once (a matrix): each is a lane, and its
// lines carry the lane's name.
class ConsoleProgress {
 public:
  // `tty`: a status line is redrawn in place (never with NO_COLOR set,
  // which asks for plain lines); otherwise only a line per scenario.
  ConsoleProgress(std::ostream& out, size_t total, bool tty)
      : out_(out), total_(total), tty_(tty && std::getenv("NO_COLOR") == nullptr), start_(absl::Now()) {}

  void Started(const std::string& lane, const Scenario& scenario) {
    std::lock_guard lock(mutex_);
    running_[Key(lane, scenario.id)] = "starting";
    Redraw();
  }
  void StepStarted(const std::string& lane, const Scenario& scenario, const scenario::Step& step, int index) {
    std::lock_guard lock(mutex_);
    running_[Key(lane, scenario.id)] = crisp::StrCat(index, "/", scenario.steps.size(), " ", step.name);
    Redraw();
  }
  void Finished(const std::string& lane, const ScenarioResult& result) {
    std::lock_guard lock(mutex_);
    running_.erase(Key(lane, result.id));
    ++done_;
    ++lane_done_[lane];
    if (result.verdict == Verdict::kFail || result.verdict == Verdict::kError) ++lane_failed_[lane];
    ClearLine();
    out_ << Label(result.verdict) << "  " << (lane.empty() ? "" : lane + "  ") << result.id << "  "
         << fmt::format("({:.1f}s)", absl::ToDoubleSeconds(result.duration)) << '\n';
    if (result.verdict != Verdict::kPass) out_ << "       " << result.reason << '\n';
    Redraw();
    out_.flush();
  }
  void Finish() {
    std::lock_guard lock(mutex_);
    ClearLine();
  }

 private:
  static std::string Key(const std::string& lane, const std::string& id) { return lane.empty() ? id : lane + ":" + id; }
  void ClearLine() {
    if (tty_) out_ << "\r\033[K";
  }
  void Redraw() {
    if (!tty_) return;
    // [done/total] elapsed, each runtime's count and failures, then what runs.
    const int64_t seconds = absl::ToInt64Seconds(absl::Now() - start_);
    std::string line = crisp::StrCat("[", done_, "/", total_, "] ", seconds / 60, "m", fmt::format("{:02d}", seconds % 60), "s");
    for (const auto& [lane, done] : lane_done_) {
      if (lane.empty() && !lane_failed_.count(lane)) continue;
      crisp::StrAppend(&line, "  ", lane.empty() ? "" : lane + " ", lane.empty() ? "" : std::to_string(done),
                       lane_failed_.count(lane) ? crisp::StrCat(lane.empty() ? "" : " ", "(", lane_failed_[lane], " failed)") : "");
    }
    crisp::StrAppend(&line, "  |");
    for (const auto& [id, what] : running_) crisp::StrAppend(&line, "  ", id, " (", what, ")");
    if (line.size() > 160) line = line.substr(0, 157) + "...";
    out_ << "\r\033[K" << line << std::flush;
  }

  std::mutex mutex_;
  std::ostream& out_;
  size_t total_;
  bool tty_;
  absl::Time start_;
  size_t done_ = 0;
  std::map<std::string, size_t> lane_done_;    // by runtime ("" for run)
  std::map<std::string, size_t> lane_failed_;  // fail or error
  std::map<std::string, std::string> running_;
};

// One runtime's view of the console.
class Lane final : public runner::Progress {
 public:
  Lane(ConsoleProgress& console, std::string name) : console_(console), name_(std::move(name)) {}
  void ScenarioStarted(const Scenario& scenario) override { console_.Started(name_, scenario); }
  void StepStarted(const Scenario& scenario, const scenario::Step& step, int index) override {
    console_.StepStarted(name_, scenario, step, index);
  }
  void ScenarioFinished(const ScenarioResult& result) override { console_.Finished(name_, result); }

 private:
  ConsoleProgress& console_;
  std::string name_;
};

bool Failed(const runner::RunResult& run) {
  return run.Count(Verdict::kFail) + run.Count(Verdict::kError) > 0 || !run.sweep_failures.empty();
}

// Reads --baseline, when given.
absl::StatusOr<std::optional<runner::Baseline>> ReadBaseline(const std::string& path) {
  if (path.empty()) return std::optional<runner::Baseline>();
  absl::StatusOr<runner::Baseline> loaded = runner::LoadBaseline(path);
  if (!loaded.ok()) return loaded.status();
  return std::optional<runner::Baseline>(*std::move(loaded));
}

// What run and matrix check before touching a runtime: the suites load and
// select something, -j is sane, the baseline reads.
struct Prepared {
  Selected selected;
  std::optional<runner::Baseline> baseline;
};

absl::StatusOr<Prepared> PrepareRun(const Selection& selection, int jobs, const std::string& baseline_path) {
  absl::StatusOr<Selected> selected = Select(selection);
  if (!selected.ok()) return selected.status();
  if (selected->scenarios.empty()) return absl::InvalidArgumentError("no scenario matches the filters");
  if (jobs < 1) return absl::InvalidArgumentError("-j must be at least 1");
  // A mistyped $CRISP_NODE_NAMESPACES is a usage error, not a run whose
  // host steps all come out n.a.
  if (const char* stated = std::getenv("CRISP_NODE_NAMESPACES"); stated != nullptr && *stated != '\0') {
    if (absl::StatusOr<runner::NodeView> view = runner::NodeView::FromList(stated); !view.ok()) return view.status();
  }
  absl::StatusOr<std::optional<runner::Baseline>> baseline = ReadBaseline(baseline_path);
  if (!baseline.ok()) return baseline.status();
  return Prepared{*std::move(selected), *std::move(baseline)};
}

// Reads every --normalise file, in order; their rules go before the built-in ones.
absl::StatusOr<diff::Normaliser> ReadRules(const std::vector<std::string>& paths) {
  std::vector<diff::Rule> rules;
  for (const std::string& path : paths) {
    absl::StatusOr<std::vector<diff::Rule>> loaded = diff::LoadRules(path);
    if (!loaded.ok()) return loaded.status();
    rules.insert(rules.end(), loaded->begin(), loaded->end());
  }
  return diff::Normaliser(std::move(rules));
}

void PrintSummary(const runner::RunResult& run, std::ostream& out) {
  constexpr Verdict kColumns[] = {Verdict::kPass, Verdict::kFail, Verdict::kError, Verdict::kSkip,
                                  Verdict::kNotApplicable, Verdict::kKnown};
  std::vector<std::string> order;
  std::map<std::string, std::map<Verdict, int>> by_suite;
  for (const ScenarioResult& scenario : run.scenarios) {
    if (!by_suite.count(scenario.suite)) order.push_back(scenario.suite);
    ++by_suite[scenario.suite][scenario.verdict];
  }
  auto row = [&](const std::string& name, size_t total, const std::map<Verdict, int>& counts) {
    std::string line = fmt::format("{:<24} {:>9}", name, total);
    for (Verdict verdict : kColumns) {
      auto found = counts.find(verdict);
      line += fmt::format(" {:>6}", found == counts.end() ? 0 : found->second);
    }
    return line + "\n";
  };
  out << '\n' << fmt::format("{:<24} {:>9} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6}\n", "suite", "scenarios", "pass",
                             "fail", "error", "skip", "n.a.", "known");
  std::map<Verdict, int> totals;
  for (const std::string& suite : order) {
    int count = 0;
    for (const auto& [verdict, n] : by_suite[suite]) {
      count += n;
      totals[verdict] += n;
    }
    out << row(suite, static_cast<size_t>(count), by_suite[suite]);
  }
  out << row("total", run.scenarios.size(), totals);
  out << fmt::format("{} on {} ({} {}), run {}, {:.1f}s\n", Failed(run) ? "FAILED" : "OK",
                     run.endpoint.name, run.runtime_version.value("runtime_name", "?"),
                     run.runtime_version.value("runtime_version", "?"), run.run_id,
                     absl::ToDoubleSeconds(run.end - run.start));
  // What the run asked of the runtime (results.json has it per scenario):
  // shared fixtures show here as fewer pods and pulls.
  std::map<std::string, int> work;
  for (const ScenarioResult& scenario : run.scenarios) {
    for (const auto& [method, count] : scenario.work) work[method] += count;
  }
  if (!work.empty()) {
    auto count = [&](int n, std::string_view noun) { return fmt::format("{} {}{}", n, noun, n == 1 ? "" : "s"); };
    auto calls = [&](const char* method) { return work.count(method) ? work[method] : 0; };
    out << "runtime work: " << count(calls("RunPodSandbox"), "pod") << ", "
        << count(calls("CreateContainer"), "container") << ", " << count(calls("PullImage"), "pull") << ", "
        << calls("ExecSync") << " ExecSync, " << count(calls("Exec") + calls("Attach"), "stream")
        << " (Exec, Attach)\n";
  }
  for (const ScenarioResult& scenario : run.scenarios) {
    if (scenario.IsStale()) {
      out << "fixed: " << scenario.id << " passes; remove it from the baseline (" << scenario.baseline->reason << ")\n";
    }
  }
  if (run.swept > 0) {
    out << "warning: the final sweep removed " << run.swept << " pod sandbox(es) that cleanup had left\n";
  }
  for (const std::string& failure : run.sweep_failures) {
    out << "warning: could not remove " << failure << " (crisp clean -l " << runner::kRunIdLabel << "="
        << run.run_id << ")\n";
  }
}

// How a run shares what scenarios set up, and in which order they start.
struct Scheduling {
  std::string fixture_scope = "run";
  std::string durations;  // a results.json whose durations order the run
};

void AddSchedulingFlags(CLI::App* command, Scheduling& scheduling) {
  command->add_option("--fixture-scope", scheduling.fixture_scope,
                      "What a suite's shared steps make (uses:, a pod or an image) serves scenarios one after "
                      "another: run: of every suite with the same step; suite: of its suite; scenario: none, "
                      "every scenario makes its own")
      ->check(CLI::IsMember({"run", "suite", "scenario"}))
      ->capture_default_str();
  command->add_option("--durations", scheduling.durations,
                      "A results.json of an earlier run (crisp run or matrix): the scenarios that took longest "
                      "start first, so the end of a -j run is not one long scenario alone");
}

runner::FixtureScope ScopeOf(const Scheduling& scheduling) {
  return scheduling.fixture_scope == "scenario" ? runner::FixtureScope::kScenario
         : scheduling.fixture_scope == "suite"  ? runner::FixtureScope::kSuite
                                                : runner::FixtureScope::kRun;
}

// Scenario ID -> the longest it took in a results.json (one run, or each
// runtime's of a matrix).
absl::StatusOr<std::map<std::string, absl::Duration>> ReadDurations(const std::string& path) {
  std::map<std::string, absl::Duration> durations;
  if (path.empty()) return durations;
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(crisp::StrCat("--durations: cannot read ", path));
  nlohmann::json results = nlohmann::json::parse(in, nullptr, false);
  if (results.is_discarded() || !results.is_object()) {
    return absl::InvalidArgumentError(crisp::StrCat("--durations: ", path, " is not a results.json (not a JSON object)"));
  }
  std::vector<const nlohmann::json*> runs;
  if (results.contains("runs") && results["runs"].is_array()) {
    for (const nlohmann::json& run : results["runs"]) runs.push_back(&run);
  } else {
    runs.push_back(&results);
  }
  for (const nlohmann::json* run : runs) {
    if (!run->is_object() || !run->contains("scenarios") || !(*run)["scenarios"].is_array()) {
      return absl::InvalidArgumentError(crisp::StrCat("--durations: ", path, " has no scenarios list"));
    }
    for (const nlohmann::json& scenario : (*run)["scenarios"]) {
      if (!scenario.is_object() || !scenario.contains("id") || !scenario["id"].is_string() ||
          !scenario.contains("duration_ms") || !scenario["duration_ms"].is_number()) {
        continue;
      }
      absl::Duration took = absl::Milliseconds(scenario["duration_ms"].get<double>());
      absl::Duration& kept = durations[scenario["id"].get<std::string>()];
      kept = std::max(kept, took);
    }
  }
  return durations;
}

struct RunFlags {
  std::string endpoint = std::string(client::kReferenceEndpoint);
  Selection selection;
  int jobs = 1;
  std::string report_dir;
  std::string run_id;
  std::string baseline;
  Scheduling scheduling;
};

// What crisp.yaml gives where the command line gave nothing.
Selection WithConfigSuites(Selection selection, const CrispConfig& config) {
  if (selection.suites.empty()) selection.suites = config.suites;
  return selection;
}
std::string BaselineOr(const std::string& flag, const CrispConfig& config) {
  return flag.empty() ? config.baseline : flag;
}

int RunSuites(const GlobalOptions& global, const RunFlags& flags, std::ostream& out, std::ostream& err) {
  StopSignals stop_signals;
  absl::StatusOr<Prepared> prepared =
      PrepareRun(WithConfigSuites(flags.selection, global.config), flags.jobs, BaselineOr(flags.baseline, global.config));
  if (!prepared.ok()) return ExitWithError(err, prepared.status());
  const Selected* selected = &prepared->selected;
  std::optional<runner::Baseline>& baseline = prepared->baseline;
  absl::StatusOr<Connection> connection = Connect(global, flags.endpoint);
  if (!connection.ok()) return ExitWithError(err, connection.status());

  if (stop_signals.StoppedEarly(err)) return kExitInterrupted;
  absl::StatusOr<std::map<std::string, absl::Duration>> durations = ReadDurations(flags.scheduling.durations);
  if (!durations.ok()) return ExitWithError(err, durations.status());
  ConsoleProgress console(out, selected->scenarios.size(), &out == &std::cout && isatty(STDOUT_FILENO));
  Lane progress(console, "");
  // Said at the start, so that whatever ends this run (even a SIGKILL),
  // `crisp clean -l crisp.run-id=ID` can remove what it made.
  const std::string run_id = flags.run_id.empty() ? runner::NewRunId() : flags.run_id;
  runner::RunOptions options{.jobs = flags.jobs,
                             .run_id = run_id,
                             .call_timeout = connection->timeout,
                             .progress = &progress,
                             .cancel = &g_cancel,
                             .baseline = baseline ? &*baseline : nullptr,
                             .fixture_scope = ScopeOf(flags.scheduling),
                             .durations = *std::move(durations)};
  out << "crisp: running " << selected->scenarios.size() << " scenario(s) on " << connection->endpoint.name
      << " (" << connection->version.runtime_name() << " " << connection->version.runtime_version() << ")"
      << (flags.jobs > 1 ? crisp::StrCat(", ", flags.jobs, " at a time") : "") << ", run ID " << run_id
      << std::endl;
  runner::Runner runner(*connection->client, connection->endpoint, options);
  runner::RunResult run = runner.Run(selected->scenarios, client::ProtoToJson(connection->version));
  run.shard = flags.selection.shard;
  console.Finish();

  PrintSummary(run, out);
  if (!flags.report_dir.empty()) {
    if (absl::Status written = report::WriteReports(run, flags.report_dir); !written.ok()) {
      err << "crisp: error: " << written.message() << '\n';
      return kExitFailures;
    }
    out << "reports: " << flags.report_dir << "/report.html, junit.xml, results.json\n";
  }
  if (run.interrupted) return kExitInterrupted;
  return Failed(run) ? kExitFailures : kExitOk;
}

struct MatrixFlags {
  std::vector<std::string> endpoints;
  Selection selection;
  int jobs = 1;
  std::string report_dir = "out/matrix";
  std::string baseline;
  std::vector<std::string> rules;
  bool serial = false;
  Scheduling scheduling;
};

// Runs the same scenarios on each runtime, each run with its own ID, all
// runtimes at once unless --serial, then writes the matrix reports.
// Parallel runs are safe: each run names and labels what it creates with
// its own run ID and suffixes, and its sweep removes only its own.
int RunMatrix(const GlobalOptions& global, const MatrixFlags& flags, std::ostream& out, std::ostream& err) {
  StopSignals stop_signals;
  absl::StatusOr<Prepared> prepared =
      PrepareRun(WithConfigSuites(flags.selection, global.config), flags.jobs, BaselineOr(flags.baseline, global.config));
  if (!prepared.ok()) return ExitWithError(err, prepared.status());
  const Selected* selected = &prepared->selected;
  std::optional<runner::Baseline>& baseline = prepared->baseline;
  absl::StatusOr<diff::Normaliser> normaliser = ReadRules(flags.rules);
  if (!normaliser.ok()) return ExitWithError(err, normaliser.status());
  std::vector<std::string> endpoints = flags.endpoints.empty() ? global.config.matrix_endpoints : flags.endpoints;
  if (endpoints.empty()) endpoints.push_back(std::string(client::kReferenceEndpoint));
  std::set<std::string> names;
  for (std::string& text : endpoints) {
    text = global.config.ResolveEndpoint(text);
    absl::StatusOr<client::Endpoint> endpoint = client::ParseEndpoint(text);
    if (!endpoint.ok()) {
      err << "crisp: error: " << endpoint.status().message() << '\n';
      return kExitUsage;
    }
    if (!names.insert(endpoint->name).second) {
      err << "crisp: error: two endpoints are named \"" << endpoint->name << "\"; name them: -e NAME=ENDPOINT\n";
      return kExitUsage;
    }
  }
  // Every endpoint must answer before anything runs.
  std::vector<Connection> connections;
  std::vector<std::string> run_ids;  // one per runtime, said at the start
  for (const std::string& text : endpoints) {
    absl::StatusOr<Connection> connection = Connect(global, text);
    if (!connection.ok()) return ExitWithError(err, connection.status());
    run_ids.push_back(runner::NewRunId());
    out << "crisp: " << connection->endpoint.name << " (" << connection->version.runtime_name() << " "
        << connection->version.runtime_version() << "): " << selected->scenarios.size() << " scenario(s), run ID "
        << run_ids.back() << "\n";
    connections.push_back(*std::move(connection));
  }
  out << "crisp: " << (flags.serial || connections.size() == 1 ? "one runtime at a time" : "all runtimes at once")
      << (flags.jobs > 1 ? crisp::StrCat(", ", flags.jobs, " scenarios at a time on each") : "") << std::endl;

  absl::StatusOr<std::map<std::string, absl::Duration>> durations = ReadDurations(flags.scheduling.durations);
  if (!durations.ok()) return ExitWithError(err, durations.status());
  if (stop_signals.StoppedEarly(err)) return kExitInterrupted;
  ConsoleProgress console(out, selected->scenarios.size() * connections.size(),
                          &out == &std::cout && isatty(STDOUT_FILENO));
  std::vector<runner::RunResult> runs(connections.size());
  std::vector<std::unique_ptr<Lane>> lanes;
  for (const Connection& connection : connections) lanes.push_back(std::make_unique<Lane>(console, connection.endpoint.name));
  auto run_one = [&](size_t i) {
    if (g_cancel) return;
    runner::Runner runner(*connections[i].client, connections[i].endpoint,
                          {.jobs = flags.jobs, .run_id = run_ids[i], .call_timeout = connections[i].timeout,
                           .progress = lanes[i].get(), .cancel = &g_cancel,
                           .baseline = baseline ? &*baseline : nullptr,
                           .fixture_scope = ScopeOf(flags.scheduling), .durations = *durations});
    runs[i] = runner.Run(selected->scenarios, client::ProtoToJson(connections[i].version));
    runs[i].shard = flags.selection.shard;
  };
  if (flags.serial) {
    for (size_t i = 0; i < connections.size(); ++i) run_one(i);
  } else {
    std::vector<std::thread> threads;
    for (size_t i = 0; i < connections.size(); ++i) threads.emplace_back(run_one, i);
    for (std::thread& thread : threads) thread.join();
  }
  console.Finish();
  bool interrupted = g_cancel.load();
  // A run cancelled before it started has no endpoint; keep only real runs.
  std::vector<runner::RunResult> finished;
  for (size_t i = 0; i < runs.size(); ++i) {
    if (runs[i].run_id.empty()) continue;
    interrupted = interrupted || runs[i].interrupted;
    finished.push_back(std::move(runs[i]));
  }
  report::Matrix matrix = report::BuildMatrix(finished, *normaliser);
  const std::string summary = report::MatrixMarkdown(matrix);
  if (absl::Status written = report::WriteMatrixReports(matrix, summary, flags.report_dir); !written.ok()) {
    err << "crisp: error: " << written.message() << '\n';
    return kExitFailures;
  }
  out << '\n' << summary << "\nreports: " << flags.report_dir
      << "/matrix.html, summary.md, results.json, junit-<runtime>.xml\n";
  if (interrupted) return kExitInterrupted;
  for (const runner::RunResult& run : finished) {
    if (Failed(run)) return kExitFailures;
  }
  return kExitOk;
}

struct CoverageFlags {
  Selection selection;
  std::vector<std::string> critest = {"docs/critest-v1.26.1.yaml", "docs/critest-head.yaml"};
  std::string output;
  bool check = false;
};

// docs/coverage.md from the suites. --check compares instead of writing
// (for tests): exit 1 when the file is stale.
int WriteCoverage(const CoverageFlags& flags, std::ostream& out, std::ostream& err) {
  absl::StatusOr<Selected> selected = Select(flags.selection);
  if (!selected.ok()) return ExitWithError(err, selected.status());
  std::vector<report::CritestList> lists;
  for (const std::string& path : flags.critest) {
    absl::StatusOr<report::CritestList> critest = report::LoadCritestList(path);
    if (!critest.ok()) {
      err << "crisp: error: " << critest.status().message() << '\n';
      return kExitUsage;
    }
    lists.push_back(*std::move(critest));
  }
  report::Coverage coverage = report::BuildCoverage(selected->scenarios, lists);
  for (const std::string& problem : coverage.problems) err << problem << '\n';
  if (!coverage.problems.empty()) return kExitUsage;
  std::string summary;
  for (const report::CritestCount& count : coverage.lists) {
    crisp::StrAppend(&summary, "critest ", count.version, ": ", count.runnable_covered, " of ", count.runnable,
                     " runnable specs covered; ");
  }
  crisp::StrAppend(&summary, coverage.rpcs_uncovered, " RPC(s) without a scenario\n");
  if (flags.output.empty()) {
    out << coverage.markdown;
    err << summary;
    return kExitOk;
  }
  if (flags.check) {
    std::ifstream in(flags.output);
    std::string current((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (current != coverage.markdown) {
      err << "crisp: " << flags.output << " is not what the suites say; run crisp coverage -o " << flags.output << '\n';
      return kExitFailures;
    }
    out << flags.output << " is up to date; " << summary;
    return kExitOk;
  }
  std::ofstream file(flags.output, std::ios::trunc);
  file << coverage.markdown;
  if (!file.flush()) {
    err << "crisp: error: cannot write " << flags.output << '\n';
    return kExitFailures;
  }
  out << "wrote " << flags.output << "; " << summary;
  return kExitOk;
}

int ListScenarios(const Selection& selection, const std::string& output, std::ostream& out,
                  std::ostream& err) {
  absl::StatusOr<Selected> selected = Select(selection);
  if (!selected.ok()) return ExitWithError(err, selected.status());
  if (output == "json") {
    nlohmann::json list = nlohmann::json::array();
    for (const Scenario* scenario : selected->scenarios) {
      list.push_back({{"id", scenario->id}, {"title", scenario->title}, {"suite", scenario->suite},
                      {"tags", scenario->tags}, {"spec_ref", scenario->spec_ref},
                      {"requires", scenario->requires_}, {"steps", scenario->steps.size()},
                      {"file", scenario->where.ToString()}});
    }
    out << JsonText(list, 2) << '\n';
    return kExitOk;
  }
  size_t width = 2;
  for (const Scenario* scenario : selected->scenarios) width = std::max(width, scenario->id.size());
  for (const Scenario* scenario : selected->scenarios) {
    std::string tags;
    for (const std::string& tag : scenario->tags) crisp::StrAppend(&tags, tags.empty() ? "" : ",", tag);
    out << fmt::format("{:<{}}  {}{}\n", scenario->id, width, scenario->title,
                       tags.empty() ? "" : "  [" + tags + "]");
  }
  out << selected->scenarios.size() << " scenario(s)\n";
  return kExitOk;
}

int Validate(const std::vector<std::string>& paths, std::ostream& out, std::ostream& err) {
  scenario::LoadResult loaded = scenario::LoadSuites(paths);
  for (const auto& diagnostic : loaded.diagnostics) err << diagnostic.ToString() << '\n';
  size_t scenarios = 0;
  for (const auto& suite : loaded.suites) scenarios += suite.scenarios.size();
  if (!loaded.ok()) {
    err << "crisp: " << loaded.diagnostics.size() << " problem(s) found\n";
    return kExitUsage;
  }
  size_t warnings = 0;
  for (const auto& suite : loaded.suites) {
    for (const auto& warning : scenario::PortabilityWarnings(suite)) {
      err << warning.ToString() << '\n';
      ++warnings;
    }
  }
  out << "ok: " << loaded.suites.size() << " suite file(s), " << scenarios << " scenario(s)";
  if (warnings > 0) out << ", " << warnings << " portability warning(s)";
  out << "\n";
  return kExitOk;
}

// A results.json, or a one-line reason it cannot be read.
std::optional<nlohmann::json> ReadResults(const std::string& path, std::ostream& err) {
  std::ifstream in(path);
  if (!in) {
    err << "crisp: error: cannot read " << path << '\n';
    return std::nullopt;
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& error) {
    size_t line = 1 + static_cast<size_t>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(
                                                           std::min(error.byte, text.size())), '\n'));
    err << "crisp: error: " << path << ":" << line << ": not valid JSON\n";
    return std::nullopt;
  }
}

struct ReportFlags {
  std::vector<std::string> results;
  std::string report_dir;
  std::vector<std::string> rules;
};

// Every run in results.json files (a run's, or each of a matrix's), each
// with where it came from ("m.json#2" for a matrix's second run).
std::optional<std::vector<report::FleetInput>> ReadRuns(const std::vector<std::string>& paths, std::ostream& err) {
  std::vector<report::FleetInput> runs;
  for (const std::string& path : paths) {
    std::optional<nlohmann::json> document = ReadResults(path, err);
    if (!document) return std::nullopt;
    std::vector<const nlohmann::json*> documents;
    const bool matrix = document->is_object() && document->value("schema", "") == report::kMatrixSchema &&
                        document->contains("runs") && (*document)["runs"].is_array();
    if (matrix) {
      for (const nlohmann::json& run : (*document)["runs"]) documents.push_back(&run);
    } else {
      documents.push_back(&*document);
    }
    for (size_t i = 0; i < documents.size(); ++i) {
      absl::StatusOr<runner::RunResult> run = report::RunFromResultsJson(*documents[i]);
      if (!run.ok()) {
        err << "crisp: error: " << path << ": " << run.status().message() << '\n';
        return std::nullopt;
      }
      runs.push_back({matrix ? crisp::StrCat(path, "#", i + 1) : path, *std::move(run)});
    }
  }
  return runs;
}

// Renders the reports again from saved results.json files: one run gives
// report.html, junit.xml and results.json; several runs (files of single
// runs, or a matrix's results.json) give the matrix reports.
int RenderReports(const ReportFlags& flags, std::ostream& out, std::ostream& err) {
  absl::StatusOr<diff::Normaliser> normaliser = ReadRules(flags.rules);
  if (!normaliser.ok()) return ExitWithError(err, normaliser.status());
  std::optional<std::vector<report::FleetInput>> inputs = ReadRuns(flags.results, err);
  if (!inputs) return kExitUsage;
  std::vector<runner::RunResult> runs;
  std::set<std::string> names;
  for (report::FleetInput& input : *inputs) {
    if (!names.insert(input.run.endpoint.name).second) {
      err << "crisp: error: " << input.source << ": a second run on \"" << input.run.endpoint.name
          << "\"; a matrix needs one run per runtime name (crisp merge folds runs of many nodes)\n";
      return kExitUsage;
    }
    runs.push_back(std::move(input.run));
  }
  if (runs.size() == 1) {
    if (absl::Status written = report::WriteReports(runs[0], flags.report_dir); !written.ok()) {
      return ExitWithError(err, written);
    }
    out << "reports: " << flags.report_dir << "/report.html, junit.xml, results.json\n";
    return kExitOk;
  }
  report::Matrix matrix = report::BuildMatrix(runs, *normaliser);
  const std::string summary = report::MatrixMarkdown(matrix);
  if (absl::Status written = report::WriteMatrixReports(matrix, summary, flags.report_dir); !written.ok()) {
    return ExitWithError(err, written);
  }
  out << "reports: " << flags.report_dir << "/matrix.html, summary.md, results.json, junit-<runtime>.xml\n";
  return kExitOk;
}

// Folds runs from many nodes (and shards of one) into one fleet report:
// a column per node and runtime, grouped by runtime version, kernel and OS.
int MergeRuns(const ReportFlags& flags, std::ostream& out, std::ostream& err) {
  absl::StatusOr<diff::Normaliser> normaliser = ReadRules(flags.rules);
  if (!normaliser.ok()) return ExitWithError(err, normaliser.status());
  std::optional<std::vector<report::FleetInput>> inputs = ReadRuns(flags.results, err);
  if (!inputs) return kExitUsage;
  absl::StatusOr<report::Fleet> fleet = report::FoldFleet(*std::move(inputs));
  if (!fleet.ok()) return ExitWithError(err, fleet.status());
  report::Matrix matrix = report::BuildMatrix(fleet->columns, *normaliser);
  matrix.document["fleet"] = fleet->ToJson();
  const std::string summary = report::FleetMarkdown(*fleet) + report::MatrixMarkdown(matrix);
  if (absl::Status written = report::WriteMatrixReports(matrix, summary, flags.report_dir); !written.ok()) {
    return ExitWithError(err, written);
  }
  out << summary << "\nreports: " << flags.report_dir
      << "/matrix.html, summary.md, results.json, junit-<node>_<runtime>.xml\n";
  bool failed = !fleet->conflicts.empty();
  for (const runner::RunResult& run : fleet->columns) failed = failed || Failed(run);
  return failed ? kExitFailures : kExitOk;
}

struct BenchFlags {
  std::vector<std::string> endpoints;
  std::vector<std::string> workloads;
  std::string focus;
  int iterations = 20;
  int warmup = 1;
  std::vector<int> concurrency = {1};
  std::vector<int> population;
  int density = 0;
  std::string report_dir;
};

// crisp bench: the workloads on each runtime, interleaved; bench.json and
// bench.md in the report directory.
int RunBench(const GlobalOptions& global, const BenchFlags& flags, std::ostream& out, std::ostream& err) {
  StopSignals stop_signals;
  if (flags.iterations < 1 || flags.warmup < 0) {
    err << "crisp: error: -n takes at least 1 iteration and --warmup at least 0\n";
    return kExitUsage;
  }
  Selection selection;
  selection.suites = flags.workloads;
  if (selection.suites.empty()) {
    if (!std::filesystem::is_directory("bench/workloads")) {
      err << "crisp: error: no --workload given and no bench/workloads/ directory here\n";
      return kExitUsage;
    }
    selection.suites.push_back("bench/workloads");
  }
  selection.focus = flags.focus;
  absl::StatusOr<Selected> selected = Select(selection);
  if (!selected.ok()) return ExitWithError(err, selected.status());
  if (selected->scenarios.empty()) {
    err << "crisp: error: no workload selected\n";
    return kExitUsage;
  }
  std::vector<std::string> endpoints = flags.endpoints.empty() ? global.config.matrix_endpoints : flags.endpoints;
  if (endpoints.empty()) endpoints.push_back(std::string(client::kReferenceEndpoint));
  std::vector<Connection> connections;
  std::set<std::string> names;
  for (const std::string& text : endpoints) {
    absl::StatusOr<Connection> connection = Connect(global, text);
    if (!connection.ok()) return ExitWithError(err, connection.status());
    if (!names.insert(connection->endpoint.name).second) {
      err << "crisp: error: two endpoints are named \"" << connection->endpoint.name << "\"; name them: -e NAME=ENDPOINT\n";
      return kExitUsage;
    }
    connections.push_back(*std::move(connection));
  }
  std::vector<bench::Target> targets;
  for (Connection& connection : connections) {
    targets.push_back({connection.endpoint, connection.client.get(), client::ProtoToJson(connection.version)});
  }
  if (stop_signals.StoppedEarly(err)) return kExitInterrupted;
  const bool tty = &out == &std::cout && isatty(STDOUT_FILENO) && std::getenv("NO_COLOR") == nullptr;
  out << "crisp: bench of " << selected->scenarios.size() << " workload(s) on " << connections.size()
      << " runtime(s), " << flags.iterations << " iteration(s) each after " << flags.warmup << " warm-up, interleaved"
      << std::endl;
  const absl::Time start = absl::Now();
  for (int level : flags.concurrency) {
    if (level < 1 || level > 64) {
      err << "crisp: error: --concurrency takes levels from 1 to 64, not " << level << "\n";
      return kExitUsage;
    }
  }
  for (int pods : flags.population) {
    if (pods < 1 || pods > 1000) {
      err << "crisp: error: --population takes pod counts from 1 to 1000, not " << pods << "\n";
      return kExitUsage;
    }
  }
  bench::BenchOptions options{.iterations = flags.iterations,
                              .warmup = flags.warmup,
                              .concurrency = flags.concurrency,
                              .population = flags.population,
                              .call_timeout = connections.front().timeout,
                              .cancel = &g_cancel,
                              .progress = [&](const std::string& what) {
                                if (tty) {
                                  out << "\r\033[K" << absl::ToInt64Seconds(absl::Now() - start) << "s  " << what << std::flush;
                                }
                              }};
  nlohmann::json document = bench::RunBench(targets, selected->scenarios, options);
  if (flags.density > 0 && !g_cancel.load()) {
    document["density"] = bench::RunDensity(targets, {.pods = flags.density,
                                                      .batch = 10,
                                                      .image = "busybox:latest",
                                                      .call_timeout = std::max(connections.front().timeout, absl::Minutes(2)),
                                                      .cancel = &g_cancel,
                                                      .progress = options.progress});
  }
  if (tty) out << "\r\033[K";
  std::string markdown = bench::BenchMarkdown(document);
  if (document.contains("density")) markdown += bench::DensityMarkdown(document["density"]);
  out << markdown;
  if (!flags.report_dir.empty()) {
    if (absl::Status written = report::WriteFiles(flags.report_dir, {{"bench.json", JsonText(document, 2) + "\n"},
                                                                     {"bench.md", markdown},
                                                                     {"bench.html", bench::BenchHtml(document)}});
        !written.ok()) {
      return ExitWithError(err, written);
    }
    out << "\nreports: " << flags.report_dir << "/bench.html, bench.json, bench.md\n";
  }
  if (document.value("interrupted", false) || g_cancel.load()) return kExitInterrupted;
  if (document.contains("density")) {
    for (const auto& [name, runtime] : document["density"]["runtimes"].items()) {
      if (runtime.value("errors", 0) > 0) return kExitFailures;
    }
  }
  for (const nlohmann::json& workload : document["workloads"]) {
    for (const auto& [name, result] : workload["results"].items()) {
      if (result.value("failed_iterations", 0) > 0) return kExitFailures;
    }
  }
  return kExitOk;
}

struct DiffFlags {
  std::string old_path;
  std::string new_path;
  std::string output = "text";
  double latency_ratio = 0.5;
  double bench_threshold = 0.2;
  std::vector<std::string> rules;
};

int DiffRuns(const DiffFlags& flags, std::ostream& out, std::ostream& err) {
  std::optional<nlohmann::json> old_run = ReadResults(flags.old_path, err);
  std::optional<nlohmann::json> new_run = ReadResults(flags.new_path, err);
  if (!old_run || !new_run) return kExitUsage;
  // Two bench.json: slowdowns that are more than noise.
  if (old_run->value("schema", "") == bench::kBenchSchema || new_run->value("schema", "") == bench::kBenchSchema) {
    absl::StatusOr<bench::BenchDiff> compared = bench::CompareBench(*old_run, *new_run, flags.bench_threshold);
    if (!compared.ok()) return ExitWithError(err, compared.status());
    out << compared->ToText();
    return compared->regressions.empty() ? kExitOk : kExitFailures;
  }
  absl::StatusOr<diff::Normaliser> normaliser = ReadRules(flags.rules);
  if (!normaliser.ok()) return ExitWithError(err, normaliser.status());
  absl::StatusOr<diff::RunDiff> result;
  try {
    result = diff::CompareRuns(*old_run, *new_run, {.latency_ratio = flags.latency_ratio, .normaliser = &*normaliser});
  } catch (const nlohmann::json::exception& error) {
    err << "crisp: error: a results file has a field of the wrong type: " << error.what() << '\n';
    return kExitUsage;
  }
  if (!result.ok()) {
    err << "crisp: error: " << result.status().message() << '\n';
    return kExitUsage;
  }
  out << (flags.output == "json" ? JsonText(result->ToJson(), 2) + "\n" : result->ToText());
  return result->regressions.empty() ? kExitOk : kExitFailures;
}

}  // namespace

void AddSuiteCommands(CLI::App& app, const GlobalOptions& global, Actions& actions, std::ostream& out,
                      std::ostream& err) {
  auto run_flags = std::make_shared<RunFlags>();
  CLI::App* run = app.add_subcommand("run", "Run scenarios against a runtime and write reports");
  run->add_option("-e,--endpoint", run_flags->endpoint,
                  "CRI endpoint (unix:///path, /path, NAME=..., or reference); default: $CRISP_ENDPOINT, else reference")
      ->envname("CRISP_ENDPOINT")
      ->capture_default_str();
  AddSelectionFlags(run, run_flags->selection);
  run->add_option("-j,--jobs", run_flags->jobs, "Scenarios run at a time")->capture_default_str();
  run->add_option("--report-dir", run_flags->report_dir, "Write report.html, junit.xml and results.json here");
  run->add_option("--run-id", run_flags->run_id, "Label this run's pods with this ID (default: time + random)");
  run->add_option("--baseline", run_flags->baseline,
                  "YAML of known failures: those scenarios show as known and do not fail the run");
  AddSchedulingFlags(run, run_flags->scheduling);
  run->footer("Verdicts: pass, fail, error, skip (crisp cannot run it here), n.a. (the runtime lacks what it "
              "requires), known (a baseline lists the failure).\nExit codes: 0 nothing failed or errored, 1 a "
              "scenario failed or errored, 2 usage or input error, 130 interrupted (after cleaning up).");
  actions[run] = [&global, run_flags, &out, &err] { return RunSuites(global, *run_flags, out, err); };

  auto list_selection = std::make_shared<Selection>();
  auto list_output = std::make_shared<std::string>("table");
  CLI::App* list = app.add_subcommand("list", "List scenarios: id, title, tags");
  AddSelectionFlags(list, *list_selection);
  list->add_option("-o,--output", *list_output, "Output format")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  actions[list] = [&global, list_selection, list_output, &out, &err] {
    return ListScenarios(WithConfigSuites(*list_selection, global.config), *list_output, out, err);
  };

  auto matrix_flags = std::make_shared<MatrixFlags>();
  CLI::App* matrix = app.add_subcommand("matrix", "Run the same scenarios on several runtimes and compare them");
  matrix->add_option("-e,--endpoint", matrix_flags->endpoints,
                     "NAME=ENDPOINT, repeatable (default: reference, the bundled runtime)");
  AddSelectionFlags(matrix, matrix_flags->selection);
  matrix->add_option("-j,--jobs", matrix_flags->jobs, "Scenarios run at a time on each runtime")->capture_default_str();
  matrix->add_option("--report-dir", matrix_flags->report_dir,
                     "Where matrix.html, summary.md, results.json and junit-*.xml go")
      ->capture_default_str();
  matrix->add_option("--baseline", matrix_flags->baseline,
                     "YAML of known failures per runtime and version: shown as known, not failing the run");
  matrix->add_option("--normalise", matrix_flags->rules,
                     "YAML of extra normalisation rules, tried before the built-in ones (repeatable; "
                     "docs/normalisation.md)");
  matrix->add_flag("--serial", matrix_flags->serial,
                   "Run one runtime after the other (default: all at once; use this when comparing latency)");
  AddSchedulingFlags(matrix, matrix_flags->scheduling);
  matrix->footer("Exit codes: 0 nothing failed or errored anywhere, 1 a scenario failed or errored somewhere, 2 usage "
                 "or endpoint error, 130 interrupted.");
  actions[matrix] = [&global, matrix_flags, &out, &err] { return RunMatrix(global, *matrix_flags, out, err); };

  auto diff_flags = std::make_shared<DiffFlags>();
  CLI::App* diff = app.add_subcommand("diff", "Compare two runs' results.json: regressions, fixes, behaviour and latency changes");
  diff->add_option("old", diff_flags->old_path, "The earlier results.json")->required();
  diff->add_option("new", diff_flags->new_path, "The later results.json")->required();
  diff->add_option("-o,--output", diff_flags->output, "Output format")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  diff->add_option("--latency-threshold", diff_flags->latency_ratio,
                   "Report a step whose latency grew by more than this fraction (and by 50ms)")
      ->capture_default_str();
  diff->add_option("--normalise", diff_flags->rules,
                   "YAML of extra normalisation rules for comparing answers (repeatable; docs/normalisation.md)");
  diff->add_option("--bench-threshold", diff_flags->bench_threshold,
                   "Two bench.json: report p50 or p99 grown by more than this fraction, when significant "
                   "(one-sided Mann-Whitney p < 0.05)")
      ->capture_default_str();
  diff->footer("Takes two results.json, or two bench.json (crisp bench). Exit codes: 0 no regression, 1 a scenario "
               "went from pass to fail or error (or a bench got significantly slower), 2 unreadable input.");
  actions[diff] = [diff_flags, &out, &err] { return DiffRuns(*diff_flags, out, err); };

  auto bench_flags = std::make_shared<BenchFlags>();
  CLI::App* bench_command = app.add_subcommand(
      "bench", "Time workloads per RPC on several runtimes, interleaved: bench.html, bench.json and bench.md");
  bench_command->add_option("-e,--endpoint", bench_flags->endpoints,
                            "NAME=ENDPOINT to measure (repeatable; default: crisp.yaml's matrix endpoints, else reference)");
  bench_command->add_option("-w,--workload", bench_flags->workloads,
                            "Workload file or directory (repeatable; default: bench/workloads)");
  bench_command->add_option("--focus", bench_flags->focus, "Only workloads whose \"id title\" matches this regular expression");
  bench_command->add_option("-n,--iterations", bench_flags->iterations, "Measured iterations per workload and runtime")
      ->capture_default_str();
  bench_command->add_option("--warmup", bench_flags->warmup, "Iterations run first and not measured")->capture_default_str();
  bench_command->add_option("--concurrency", bench_flags->concurrency,
                            "Copies of each workload in flight at once, a level per value (1,4,16): throughput and "
                            "latency per level")
      ->delimiter(',')
      ->capture_default_str();
  bench_command->add_option("--density", bench_flags->density,
                            "Also start this many pods with a running container on each runtime, 10 at a time, "
                            "timing each batch (how latency grows with the count), then remove them");
  bench_command->add_option("--population", bench_flags->population,
                            "Also measure each workload with this many pods (each with a running container) present "
                            "on every runtime, a level per value (100,500): how list and status calls grow with "
                            "what a runtime holds. Made 10 at a time, not measured, removed at the end")
      ->delimiter(',');
  bench_command->add_option("--report-dir", bench_flags->report_dir, "Write bench.html, bench.json and bench.md here");
  bench_command->footer(
      "Each iteration runs a workload (a scenario: the suites' step language) once on one runtime, cleanup "
      "included; runtimes take turns, the first rotating, so noise falls on all alike.\nExit codes: 0 every "
      "iteration passed, 1 an iteration failed (its errors are counted), 2 usage or endpoint error, 130 interrupted.");
  actions[bench_command] = [&global, bench_flags, &out, &err] { return RunBench(global, *bench_flags, out, err); };

  auto report_flags = std::make_shared<ReportFlags>();
  CLI::App* report_command = app.add_subcommand(
      "report", "Render the reports again from saved results.json files (one run, several, or a matrix's)");
  report_command->add_option("results", report_flags->results, "results.json files")->required();
  report_command->add_option("--report-dir", report_flags->report_dir, "Where the reports go")->required();
  report_command->add_option("--normalise", report_flags->rules,
                             "YAML of extra normalisation rules for comparing runs (repeatable; docs/normalisation.md)");
  report_command->footer(
      "One run: report.html, junit.xml, results.json. Several: matrix.html, summary.md, results.json, "
      "junit-<runtime>.xml. Exit codes: 0 written, 1 not written, 2 unreadable input.");
  actions[report_command] = [report_flags, &out, &err] { return RenderReports(*report_flags, out, err); };

  auto merge_flags = std::make_shared<ReportFlags>();
  CLI::App* merge = app.add_subcommand(
      "merge", "Fold runs from many nodes (results.json of runs, shards or matrices) into one fleet report");
  merge->add_option("results", merge_flags->results, "results.json files")->required();
  merge->add_option("--report-dir", merge_flags->report_dir, "Where the fleet reports go")->required();
  merge->add_option("--normalise", merge_flags->rules,
                    "YAML of extra normalisation rules for comparing answers (repeatable; docs/normalisation.md)");
  merge->footer(
      "Runs of one node (results.json node.name) and runtime fold into one column, NODE/RUNTIME: the shards of "
      "crisp run --shard K/N, or repeats. A scenario given two verdicts there is shown as an error naming both. "
      "Columns are grouped by runtime name and version, kernel and OS.\nWrites matrix.html, summary.md, "
      "results.json (with \"fleet\") and junit-<node>_<runtime>.xml. Exit codes: 0 nothing failed, 1 a scenario "
      "failed or errored, or verdicts conflict, 2 usage or input error.");
  actions[merge] = [merge_flags, &out, &err] { return MergeRuns(*merge_flags, out, err); };

  auto coverage_flags = std::make_shared<CoverageFlags>();
  CLI::App* coverage = app.add_subcommand("coverage", "Which scenarios cover each critest spec and each CRI RPC (Markdown)");
  AddSelectionFlags(coverage, coverage_flags->selection);
  coverage->add_option("--critest", coverage_flags->critest,
                       "A critest spec list (repeatable; one section each, in this order)")
      ->capture_default_str();
  coverage->add_option("-o,--output", coverage_flags->output, "Write here (docs/coverage.md) instead of stdout");
  coverage->add_flag("--check", coverage_flags->check, "With -o: compare with the file instead of writing it; exit 1 if stale");
  actions[coverage] = [coverage_flags, &out, &err] { return WriteCoverage(*coverage_flags, out, err); };

  auto validate_paths = std::make_shared<std::vector<std::string>>();
  CLI::App* validate = app.add_subcommand("validate", "Check suite files without running them");
  validate->add_option("paths", *validate_paths, "Suite files or directories")->required();
  validate->footer(
      "Prints file:line:col: message for each problem; exit code 2 when there is any.\n"
      "Also warns (exit code 0) on checks that pin what the CRI leaves to the runtime: an identifier's form, or "
      "equality of a whole map or list a runtime may extend; a scenario that must pin one says why with strict: "
      "<reason> (docs/scenarios.md, Portability).");
  actions[validate] = [validate_paths, &out, &err] { return Validate(*validate_paths, out, err); };
}

}  // namespace crisp::cli
