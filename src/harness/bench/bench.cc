#include "harness/bench/bench.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>

#include "common/build_info.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "runtime/v1/api.grpc.pb.h"
#include "common/strings.h"
#include "fmt/format.h"
#include "harness/bench/density.h"
#include "harness/bench/process_meter.h"
#include "harness/bench/stats.h"
#include "harness/report/reports.h"
#include "harness/runner/capabilities.h"
#include "harness/runner/runner.h"

namespace crisp::bench {

namespace {

std::vector<double> SamplesIn(const nlohmann::json& stats) {
  std::vector<double> out;
  if (!stats.is_object() || !stats.contains("samples_ms") || !stats["samples_ms"].is_array()) return out;
  for (const nlohmann::json& v : stats["samples_ms"]) {
    if (v.is_number()) out.push_back(v.get<double>());
  }
  return out;
}

}  // namespace

absl::StatusOr<BenchDiff> CompareBench(const nlohmann::json& earlier, const nlohmann::json& later, double threshold) {
  for (const nlohmann::json* doc : {&earlier, &later}) {
    if (!doc->is_object() || doc->value("schema", "") != kBenchSchema || !(*doc)["workloads"].is_array()) {
      return absl::InvalidArgumentError(crisp::StrCat("not a bench.json (schema ", kBenchSchema, ")"));
    }
  }
  BenchDiff diff;
  std::map<std::string, const nlohmann::json*> before;
  for (const nlohmann::json& workload : earlier["workloads"]) before[workload.value("id", "")] = &workload;
  for (const nlohmann::json& workload : later["workloads"]) {
    const std::string id = workload.value("id", "");
    auto found = before.find(id);
    if (found == before.end() || !workload.contains("results") || !found->second->contains("results")) {
      diff.notes.push_back(crisp::StrCat(id, ": not in the earlier bench"));
      continue;
    }
    for (const auto& [runtime, result] : workload["results"].items()) {
      const nlohmann::json& old_results = (*found->second)["results"];
      if (!old_results.contains(runtime)) {
        diff.notes.push_back(crisp::StrCat(id, " on ", runtime, ": not in the earlier bench"));
        continue;
      }
      const nlohmann::json& old_result = old_results[runtime];
      std::vector<std::pair<std::string, std::pair<const nlohmann::json*, const nlohmann::json*>>> series = {
          {"whole iteration", {&old_result["iteration"], &result["iteration"]}}};
      const nlohmann::json rpcs = result.value("rpcs", nlohmann::json::object());  // outlives the pointers kept below
      for (const auto& [rpc, stats] : rpcs.items()) {
        if (old_result.contains("rpcs") && old_result["rpcs"].contains(rpc)) {
          series.push_back({rpc, {&old_result["rpcs"][rpc], &stats}});
        }
      }
      for (const auto& [what, pair] : series) {
        const nlohmann::json& a = *pair.first;
        const nlohmann::json& b = *pair.second;
        const std::vector<double> xs = SamplesIn(a), ys = SamplesIn(b);
        if (xs.size() < 3 || ys.size() < 3) {
          diff.notes.push_back(crisp::StrCat(id, " on ", runtime, ", ", what, ": too few samples to compare"));
          continue;
        }
        const Summary sa = Summarise(xs), sb = Summarise(ys);
        auto describe = [&](double p) {
          return crisp::StrCat(id, " on ", runtime, ", ", what, ": p50 ", fmt::format("{:.1f}", sa.p50), " -> ",
                               fmt::format("{:.1f}", sb.p50), " ms (", fmt::format("{:+.0f}%", 100 * (sb.p50 / sa.p50 - 1)),
                               "), p99 ", fmt::format("{:.1f}", sa.p99), " -> ", fmt::format("{:.1f}", sb.p99),
                               " ms (", fmt::format("{:+.0f}%", 100 * (sb.p99 / sa.p99 - 1)), "), Mann-Whitney p ",
                               fmt::format("{:.3g}", p));
        };
        const bool grew = sb.p50 > sa.p50 * (1 + threshold) || sb.p99 > sa.p99 * (1 + threshold);
        const bool shrank = sb.p50 * (1 + threshold) < sa.p50;
        if (grew) {
          const double p = MannWhitneyLaterIsLarger(xs, ys);
          if (p < 0.05) diff.regressions.push_back(describe(p));
        } else if (shrank) {
          const double p = MannWhitneyLaterIsLarger(ys, xs);
          if (p < 0.05) diff.improvements.push_back(describe(p));
        }
      }
    }
  }
  return diff;
}

std::string BenchDiff::ToText() const {
  std::string text;
  for (const std::string& line : regressions) crisp::StrAppend(&text, "SLOWER   ", line, "\n");
  for (const std::string& line : improvements) crisp::StrAppend(&text, "FASTER   ", line, "\n");
  for (const std::string& line : notes) crisp::StrAppend(&text, "note     ", line, "\n");
  crisp::StrAppend(&text, regressions.size(), " regression(s), ", improvements.size(), " improvement(s)\n");
  return text;
}

nlohmann::json ClientOverhead(const Target& target, int calls) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel = grpc::CreateCustomChannel(target.endpoint.GrpcTarget(), grpc::InsecureChannelCredentials(), args);
  auto stub = runtime::v1::RuntimeService::NewStub(channel);
  runtime::v1::VersionRequest request;
  std::vector<double> raw_us, crisp_us;
  for (int i = 0; i < calls; ++i) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    runtime::v1::VersionResponse response;
    absl::Time start = absl::Now();
    grpc::Status status = stub->Version(&context, request, &response);
    if (status.ok()) raw_us.push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
    start = absl::Now();
    absl::StatusOr<runtime::v1::VersionResponse> answer =
        client::CallAs<runtime::v1::VersionResponse>(*target.client, "Version", request);
    if (answer.ok()) crisp_us.push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
  }
  const double raw = Percentile(raw_us, 0.5), ours = Percentile(crisp_us, 0.5);
  return {{"calls", calls},
          {"runtime", target.endpoint.name},
          {"raw_p50_us", std::round(raw)},
          {"crisp_p50_us", std::round(ours)},
          {"overhead_p50_us", std::round(ours - raw)}};
}

IterationSamples SamplesOf(const nlohmann::json& scenario) {
  IterationSamples samples;
  samples.failed = scenario.value("verdict", "") != "pass";
  for (const nlohmann::json& step : scenario.value("steps", nlohmann::json::array())) {
    std::string rpc = step.value("method", "");
    if (rpc.empty()) rpc = step.value("name", "?");
    const nlohmann::json observations = step.value("observations", nlohmann::json::array());
    if (step.value("verdict", "") != "pass") ++samples.errors[rpc];
    if (observations.empty()) continue;
    const nlohmann::json& last = observations.back();
    if (last.contains("latency_ns") && last["latency_ns"].is_number()) {
      samples.latency_ms[rpc].push_back(last["latency_ns"].get<double>() / 1e6);
    }
  }
  return samples;
}

namespace {

struct Collected {
  std::vector<double> iteration_ms;
  int operations = 0;  // workload runs measured (iterations x copies in flight)
  std::map<std::string, std::vector<double>> latency_ms;
  std::map<std::string, int> errors;
  int failed = 0;
};

}  // namespace

nlohmann::json RunBench(const std::vector<Target>& targets, const std::vector<const scenario::Scenario*>& workloads,
                        const BenchOptions& options) {
  std::vector<runner::Capabilities> capabilities;
  for (const Target& target : targets) capabilities.push_back(runner::Capabilities::Probe(*target.client, options.call_timeout,
                                                                                                   target.endpoint.socket_path));
  nlohmann::json out = {{"schema", kBenchSchema},
                        {"crisp_version", kCrispVersion},
                        {"iterations", options.iterations},
                        {"warmup", options.warmup},
                        {"runtimes", nlohmann::json::array()},
                        {"workloads", nlohmann::json::array()}};
  for (const Target& target : targets) {
    out["runtimes"].push_back({{"name", target.endpoint.name}, {"address", target.endpoint.Display()}, {"runtime", target.version}});
  }
  if (!targets.empty()) out["crisp_overhead"] = ClientOverhead(targets.front(), 200);
  const size_t count = targets.size();
  bool cancelled = false;
  // One workload at one concurrency level: `level` copies in flight per
  // iteration, on each runtime in turn. {"order", "results"}.
  auto measure = [&](const scenario::Scenario* workload, int level) {
    std::vector<Collected> collected(count);
    nlohmann::json order = nlohmann::json::array();
    const int total = options.warmup + options.iterations;
    const std::vector<const scenario::Scenario*> copies(static_cast<size_t>(level), workload);
    // The runtimes' own processes, over the measured iterations.
    std::vector<std::unique_ptr<ProcessMeter>> meters(count);
    std::vector<std::string> meter_errors(count);
    for (int i = 0; i < total && !cancelled; ++i) {
      if (i == options.warmup) {
        for (size_t r = 0; r < count; ++r) {
          absl::StatusOr<int> pid = SocketServerPid(targets[r].endpoint.socket_path);
          if (pid.ok()) {
            meters[r] = std::make_unique<ProcessMeter>(*pid, targets[r].endpoint.socket_path);
          } else {
            meter_errors[r] = std::string(pid.status().message());
          }
        }
      }
      nlohmann::json round = nlohmann::json::array();
      for (size_t k = 0; k < count && !cancelled; ++k) {
        const size_t r = (static_cast<size_t>(i) + k) % count;  // the first runtime rotates
        const Target& target = targets[r];
        if (options.progress) {
          options.progress(crisp::StrCat(workload->id, level > 1 ? crisp::StrCat(" x", level) : "", " ",
                                         i < options.warmup ? "warm-up" : crisp::StrCat(i - options.warmup + 1, "/", options.iterations),
                                         " on ", target.endpoint.name));
        }
        runner::Runner runner(*target.client, target.endpoint,
                              {.jobs = level, .run_id = "", .call_timeout = options.call_timeout, .progress = nullptr,
                               .cancel = options.cancel, .capabilities = &capabilities[r], .baseline = nullptr,
                                .fixture_scope = runner::FixtureScope::kScenario, .durations = {}});
        const absl::Time start = absl::Now();
        runner::RunResult result = runner.Run(copies, target.version);
        const double wall_ms = absl::ToDoubleMilliseconds(absl::Now() - start);
        cancelled = options.cancel != nullptr && options.cancel->load();
        if (i < options.warmup || result.scenarios.empty()) continue;
        round.push_back(target.endpoint.name);
        Collected& into = collected[r];
        into.iteration_ms.push_back(wall_ms);
        into.operations += static_cast<int>(result.scenarios.size());
        const nlohmann::json document = report::ResultsJson(result);  // kept alive for the loop
        for (const nlohmann::json& scenario : document["scenarios"]) {
          IterationSamples samples = SamplesOf(scenario);
          for (auto& [rpc, values] : samples.latency_ms) {
            into.latency_ms[rpc].insert(into.latency_ms[rpc].end(), values.begin(), values.end());
          }
          for (const auto& [rpc, errors] : samples.errors) into.errors[rpc] += errors;
          into.failed += samples.failed;
        }
      }
      if (!round.empty()) order.push_back(std::move(round));
    }
    nlohmann::json results = nlohmann::json::object();
    for (size_t r = 0; r < count; ++r) {
      const Collected& c = collected[r];
      double total_ms = 0;
      for (double ms : c.iteration_ms) total_ms += ms;
      nlohmann::json rpcs = nlohmann::json::object();
      auto rounded = [](const std::vector<double>& values) {
        nlohmann::json list = nlohmann::json::array();
        for (double v : values) list.push_back(std::round(v * 1000) / 1000);
        return list;
      };
      for (const auto& [rpc, values] : c.latency_ms) {
        rpcs[rpc] = SummaryJson(Summarise(values));
        rpcs[rpc]["errors"] = c.errors.count(rpc) ? c.errors.at(rpc) : 0;
        rpcs[rpc]["samples_ms"] = rounded(values);  // for crisp diff's significance test
      }
      for (const auto& [rpc, errors] : c.errors) {
        if (!rpcs.contains(rpc)) rpcs[rpc] = {{"count", 0}, {"errors", errors}};
      }
      nlohmann::json cost = meters[r] ? meters[r]->Stop().ToJson() : nlohmann::json{{"error", meter_errors[r]}};
      results[targets[r].endpoint.name] = {
          {"runtime_cost", std::move(cost)},
          {"iterations", c.iteration_ms.size()},
          {"failed_iterations", c.failed},
          {"ops_per_s", total_ms > 0 ? static_cast<double>(c.operations) * 1000.0 / total_ms : 0.0},
          {"iteration", [&] {
             nlohmann::json iteration = SummaryJson(Summarise(c.iteration_ms));
             iteration["samples_ms"] = rounded(c.iteration_ms);
             return iteration;
           }()},
          {"rpcs", std::move(rpcs)}};
    }
    return nlohmann::json{{"order", std::move(order)}, {"results", std::move(results)}};
  };
  for (const scenario::Scenario* workload : workloads) {
    nlohmann::json entry = {{"id", workload->id}, {"title", workload->title}};
    for (int level : options.concurrency) {
      if (cancelled) break;
      nlohmann::json measured = measure(workload, level);
      if (level == 1) {
        entry["order"] = std::move(measured["order"]);
        entry["results"] = std::move(measured["results"]);
      } else {
        entry["concurrency"][std::to_string(level)] = std::move(measured);
      }
    }
    out["workloads"].push_back(std::move(entry));
  }
  // The same workloads with objects present: one population for all, grown
  // level by level, so each level costs only the pods it adds.
  if (!options.population.empty() && !cancelled) {
    std::vector<int> levels = options.population;
    std::sort(levels.begin(), levels.end());
    PodPopulation population(targets, {.pods = levels.back(), .batch = 10, .image = "busybox:latest",
                                       .call_timeout = std::max(options.call_timeout, absl::Minutes(2)),
                                       .cancel = options.cancel, .progress = options.progress});
    for (int level : levels) {
      population.GrowTo(level);
      cancelled = options.cancel != nullptr && options.cancel->load();
      if (cancelled) break;  // a level with fewer pods than it says is not measured
      const nlohmann::json present = population.Present();
      for (size_t w = 0; w < workloads.size() && !cancelled; ++w) {
        nlohmann::json measured = measure(workloads[w], 1);
        measured["present"] = present;
        out["workloads"][w]["population"][std::to_string(level)] = std::move(measured);
      }
      if (cancelled) break;
    }
    out["population_removed"] = population.RemoveAll();
  }
  out["interrupted"] = cancelled;
  return out;
}

namespace {

// How a workload's RPCs grow with pods present: p50 ms per RPC, by runtime
// and by the pods present (0: the plain measurement).
std::string PopulationMarkdown(const nlohmann::json& workload, const std::vector<std::string>& names) {
  std::vector<std::pair<int, const nlohmann::json*>> levels;
  if (workload.contains("results")) levels.emplace_back(0, &workload["results"]);
  for (const auto& [level, measured] : workload["population"].items()) levels.emplace_back(std::stoi(level), &measured);
  std::sort(levels.begin(), levels.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string md = crisp::StrCat("\np50 ms with pods present (each with a running container), by runtime and pods\n\n| RPC |");
  for (const std::string& name : names) {
    for (const auto& [level, unused] : levels) crisp::StrAppend(&md, " ", name, " ", level, " |");
  }
  md += "\n|---|";
  for (size_t i = 0; i < names.size() * levels.size(); ++i) md += "---|";
  md += "\n";
  std::map<std::string, bool> rpcs;
  for (const auto& [level, measured] : levels) {
    const nlohmann::json& results = level == 0 ? *measured : (*measured)["results"];
    for (const std::string& name : names) {
      if (!results.contains(name)) continue;
      for (const auto& [rpc, stats] : results[name]["rpcs"].items()) rpcs[rpc] = true;
    }
  }
  for (const auto& [rpc, unused] : rpcs) {
    crisp::StrAppend(&md, "| ", rpc, " |");
    for (const std::string& name : names) {
      for (const auto& [level, measured] : levels) {
        const nlohmann::json& results = level == 0 ? *measured : (*measured)["results"];
        const nlohmann::json* stats = results.contains(name) && results[name]["rpcs"].contains(rpc)
                                          ? &results[name]["rpcs"][rpc]
                                          : nullptr;
        crisp::StrAppend(&md, " ", stats != nullptr && stats->contains("p50_ms")
                                       ? fmt::format("{:.1f}", (*stats)["p50_ms"].get<double>())
                                       : std::string("—"),
                         " |");
      }
    }
    md += "\n";
  }
  return md;
}

}  // namespace

std::string BenchMarkdown(const nlohmann::json& bench) {
  std::vector<std::string> names;
  for (const nlohmann::json& runtime : bench["runtimes"]) names.push_back(runtime["name"].get<std::string>());
  std::string md = crisp::StrCat("## crisp bench: ", bench["workloads"].size(), " workload(s) × ", names.size(),
                                 " runtime(s), ", bench["iterations"].get<int>(), " iterations each, interleaved\n\n");
  if (bench.contains("crisp_overhead")) {
    const nlohmann::json& overhead = bench["crisp_overhead"];
    crisp::StrAppend(&md, "crisp's own cost per call: ", overhead["overhead_p50_us"].get<double>(),
                     " µs at p50 (Version on ", overhead["runtime"].get<std::string>(), ": ",
                     overhead["crisp_p50_us"].get<double>(), " µs through crisp's recording client, ",
                     overhead["raw_p50_us"].get<double>(), " µs through a plain stub, ", overhead["calls"].get<int>(),
                     " calls each, alternating)\n\n");
  }
  for (const nlohmann::json& runtime : bench["runtimes"]) {
    crisp::StrAppend(&md, "- **", runtime["name"].get<std::string>(), "**: ",
                     runtime["runtime"].value("runtime_name", "?"), " ", runtime["runtime"].value("runtime_version", "?"), "\n");
  }
  auto cell = [](const nlohmann::json& stats, const nlohmann::json* first) {
    if (!stats.is_object() || stats.value("count", 0) == 0) return std::string("—");
    std::string text = fmt::format("{:.1f} / {:.1f}", stats["p50_ms"].get<double>(), stats["p99_ms"].get<double>());
    if (first != nullptr && first->is_object() && first->value("p50_ms", 0.0) > 0) {
      text += fmt::format(" ({:.2f}×)", stats["p50_ms"].get<double>() / (*first)["p50_ms"].get<double>());
    }
    if (stats.value("errors", 0) > 0) text += fmt::format(", {} errors", stats["errors"].get<int>());
    return text;
  };
  for (const nlohmann::json& workload : bench["workloads"]) {
    if (workload.contains("concurrency")) {
      crisp::StrAppend(&md, "\n### `", workload["id"].get<std::string>(), "` by copies in flight\n\n",
                       "ops/s (p50 wall time of one iteration, every copy in flight)\n\n| in flight |");
      for (const std::string& name : names) crisp::StrAppend(&md, " ", name, " |");
      md += "\n|---|";
      for (size_t i = 0; i < names.size(); ++i) md += "---|";
      md += "\n";
      std::vector<std::pair<int, const nlohmann::json*>> levels;
      if (workload.contains("results")) levels.emplace_back(1, &workload["results"]);
      for (const auto& [level, measured] : workload["concurrency"].items()) {
        levels.emplace_back(std::stoi(level), &measured["results"]);
      }
      std::sort(levels.begin(), levels.end());
      for (const auto& [level, results] : levels) {
        crisp::StrAppend(&md, "| ", level, " |");
        for (const std::string& name : names) {
          const nlohmann::json& result = (*results)[name];
          crisp::StrAppend(&md, " ", fmt::format("{:.2f} ({:.0f} ms)", result["ops_per_s"].get<double>(),
                                                 result["iteration"].value("p50_ms", 0.0)),
                           result["failed_iterations"].get<int>() > 0
                               ? fmt::format(", {} failed", result["failed_iterations"].get<int>())
                               : "",
                           " |");
        }
        md += "\n";
      }
    }
    if (!workload.contains("results")) continue;
    const nlohmann::json& results = workload["results"];
    crisp::StrAppend(&md, "\n### `", workload["id"].get<std::string>(), "`: ", workload["title"].get<std::string>(),
                     "\n\np50 / p99 in ms (p50 ratio to ", names.front(), ")\n\n| RPC |");
    for (const std::string& name : names) crisp::StrAppend(&md, " ", name, " |");
    md += "\n|---|";
    for (size_t i = 0; i < names.size(); ++i) md += "---|";
    md += "\n";
    std::map<std::string, bool> rpcs;
    for (const std::string& name : names) {
      for (const auto& [rpc, stats] : results[name]["rpcs"].items()) rpcs[rpc] = true;
    }
    auto row = [&](const std::string& label, auto stats_of) {
      crisp::StrAppend(&md, "| ", label, " |");
      const nlohmann::json first = stats_of(names.front());
      for (const std::string& name : names) {
        crisp::StrAppend(&md, " ", cell(stats_of(name), name == names.front() ? nullptr : &first), " |");
      }
      md += "\n";
    };
    row("**whole iteration**", [&](const std::string& name) { return results[name]["iteration"]; });
    for (const auto& [rpc, unused] : rpcs) {
      row(rpc, [&](const std::string& name) {
        const nlohmann::json& per = results[name]["rpcs"];
        return per.contains(rpc) ? per[rpc] : nlohmann::json();
      });
    }
    md += "| runtime CPU s / peak RSS MiB |";
    for (const std::string& name : names) {
      const nlohmann::json& cost = results[name]["runtime_cost"];
      if (cost.contains("cpu_seconds")) {
        crisp::StrAppend(&md, " ", fmt::format("{:.2f} / {:.1f}", cost["cpu_seconds"].get<double>(),
                                               static_cast<double>(cost["peak_rss_kib"].get<long>()) / 1024),
                         " |");
      } else {
        md += " — |";
      }
    }
    md += "\n| ops/s |";
    for (const std::string& name : names) {
      crisp::StrAppend(&md, " ", fmt::format("{:.2f}", results[name]["ops_per_s"].get<double>()),
                       results[name]["failed_iterations"].get<int>() > 0
                           ? fmt::format(" ({} failed)", results[name]["failed_iterations"].get<int>())
                           : "",
                       " |");
    }
    md += "\n";
    if (workload.contains("population")) md += PopulationMarkdown(workload, names);
  }
  md += "\nRuntime CPU and memory: the process serving each socket (SO_PEERCRED), its descendants, and processes "
        "whose command line names the socket (containerd's shims), sampled every 100 ms over the measured "
        "iterations; CPU of short-lived processes counts when the server reaped them or a sample saw them.\n";
  return md;
}

}  // namespace crisp::bench
