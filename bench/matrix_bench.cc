// How long the matrix reports take for a big suite: 2000 scenarios on 3
// runtimes, each scenario with 6 steps whose answers look like real ones
// (pod and container IDs, times, addresses, a log), and some runtimes
// answering differently. The target: matrix.html in under a second.
//
// Reported with a peer measured in the same run: serialising the same
// results as plain JSON (what any reporter must at least do), so the ratio
// says what normalising, diffing and the page cost on top.
//
//   crisp_matrix_bench [--write-html=PATH] [benchmark flags]
// --write-html writes the synthetic page (for timing it in a browser).
#include <benchmark/benchmark.h>

#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "common/strings.h"
#include "harness/diff/normalise.h"
#include "harness/report/matrix.h"
#include "harness/report/matrix_html.h"
#include "harness/report/reports.h"

namespace {

using crisp::runner::RunResult;
using crisp::runner::ScenarioResult;
using crisp::runner::StepResult;
using crisp::runner::Verdict;
using nlohmann::json;

constexpr int kScenarios = 2000;
constexpr int kRuntimes = 3;
const char* const kAreas[] = {"runtime", "pod", "container", "image", "networking", "security", "logs", "mounts"};

StepResult Call(int index, const std::string& method, json request, json response, std::string code = "OK") {
  StepResult step;
  step.index = index;
  step.name = method;
  step.kind = "call";
  step.method = method;
  step.duration = absl::Milliseconds(3);
  step.attempts = 1;
  step.observations.push_back({{"service", "runtime.v1.RuntimeService"}, {"method", method}, {"request", std::move(request)},
                               {"code", code == "OK" ? 0 : 5}, {"code_name", code}, {"response", std::move(response)},
                               {"start", "2026-11-29T05:00:00.000000001Z"}, {"latency_ns", 3000000}});
  return step;
}

ScenarioResult SyntheticScenario(int n, int runtime, std::mt19937& random) {
  auto hex = [&](int length) {
    std::string out;
    for (int i = 0; i < length; ++i) out += "0123456789abcdef"[random() % 16];
    return out;
  };
  std::string pod = hex(64), ctr = hex(64), suffix = hex(6);
  ScenarioResult scenario;
  scenario.id = crisp::StrCat(kAreas[n % 8], ".scenario-", n);
  scenario.title = crisp::StrCat("Synthetic scenario number ", n, " with a title of realistic length");
  scenario.suite = kAreas[n % 8];
  scenario.file = crisp::StrCat("suites/", kAreas[n % 8], "/synthetic.yaml");
  scenario.tags = {"conformance", "linux"};
  scenario.spec_ref = "CRI runtime.v1 RuntimeService";
  scenario.substitutions = {{suffix, "${run.suffix}"}};
  json config = {{"metadata", {{"name", "pod-" + suffix}, {"uid", "uid-" + suffix}, {"namespace", "crisp"}}},
                 {"labels", {{"crisp.run-id", "run"}, {"crisp.scenario", scenario.id}}},
                 {"log_directory", "/tmp/crisp/pods/" + suffix}};
  scenario.steps.push_back(Call(1, "RunPodSandbox", {{"config", config}}, {{"pod_sandbox_id", pod}}));
  scenario.steps.push_back(Call(2, "CreateContainer", {{"pod_sandbox_id", pod}, {"config", {{"image", {{"image", "busybox"}}}}}},
                                {{"container_id", ctr}}));
  scenario.steps.push_back(Call(3, "StartContainer", {{"container_id", ctr}}, json::object()));
  json status = {{"status", {{"id", ctr}, {"state", "CONTAINER_RUNNING"}, {"created_at", 1000 + runtime},
                             {"started_at", 2000 + runtime}, {"finished_at", 0}, {"exit_code", 0},
                             {"image", {{"image", runtime == 1 ? "busybox" : "docker.io/library/busybox:latest"}}},
                             {"image_ref", runtime == 1 ? "docker.io/library/busybox@sha256:" + hex(64) : "sha256:abc"},
                             {"labels", {{"app", "x"}}}, {"log_path", "/tmp/crisp/pods/" + suffix + "/" + ctr + ".log"}}}};
  scenario.steps.push_back(Call(4, "ContainerStatus", {{"container_id", ctr}, {"verbose", false}}, status));
  scenario.steps.push_back(Call(5, "PodSandboxStatus", {{"pod_sandbox_id", pod}},
                                {{"status", {{"id", pod}, {"state", "SANDBOX_READY"}, {"created_at", 500},
                                             {"network", {{"ip", crisp::StrCat("10.", 88 + runtime, ".0.", n % 250)}}}}}}));
  // Every 10th scenario: one runtime answers with another code.
  std::string code = n % 10 == 0 && runtime == 2 ? "NotFound" : "OK";
  scenario.steps.push_back(Call(6, "StopContainer", {{"container_id", ctr}, {"timeout", 10}}, code == "OK" ? json::object() : json(),
                                code));
  scenario.verdict = n % 50 == 0 && runtime == 2 ? Verdict::kFail : n % 40 == 0 ? Verdict::kNotApplicable : Verdict::kPass;
  if (scenario.verdict != Verdict::kPass) scenario.reason = "step 6 (StopContainer): expected code OK, got NotFound";
  scenario.duration = absl::Milliseconds(20);
  scenario.cleanup = {"container " + ctr.substr(0, 13) + ": removed", "pod sandbox " + pod.substr(0, 13) + ": removed"};
  return scenario;
}

const std::vector<RunResult>& Runs() {
  static const std::vector<RunResult> runs = [] {
    std::mt19937 random(42);
    std::vector<RunResult> out(kRuntimes);
    const char* names[] = {"containerd", "reference", "crio"};
    for (size_t r = 0; r < out.size(); ++r) {
      out[r].run_id = crisp::StrCat("20261129-000000-", r);
      out[r].endpoint.name = names[r];
      out[r].runtime_version = {{"runtime_name", names[r]}, {"runtime_version", "1.0.0"}, {"runtime_api_version", "v1"}};
      for (int n = 0; n < kScenarios; ++n) out[r].scenarios.push_back(SyntheticScenario(n, static_cast<int>(r), random));
    }
    return out;
  }();
  return runs;
}

// The whole matrix.html: results, normalisation, diffs, and the page.
void BM_MatrixHtml(benchmark::State& state) {
  const std::vector<RunResult>& runs = Runs();
  crisp::diff::Normaliser normaliser;
  size_t bytes = 0;
  for (auto _ : state) {
    crisp::report::Matrix matrix = crisp::report::BuildMatrix(runs, normaliser);
    std::string html = crisp::report::MatrixHtml(crisp::report::MatrixJson(matrix));
    bytes = html.size();
    benchmark::DoNotOptimize(html);
  }
  state.counters["html_MiB"] = static_cast<double>(bytes) / (1 << 20);
}
BENCHMARK(BM_MatrixHtml)->Unit(benchmark::kMillisecond)->MinTime(3.0)->UseRealTime();

// The peer: the same runs as plain results.json text, nothing compared.
void BM_PlainResultsJson(benchmark::State& state) {
  const std::vector<RunResult>& runs = Runs();
  for (auto _ : state) {
    std::string text;
    for (const RunResult& run : runs) text += crisp::report::ResultsJson(run).dump();
    benchmark::DoNotOptimize(text);
  }
}
BENCHMARK(BM_PlainResultsJson)->Unit(benchmark::kMillisecond)->MinTime(3.0)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--write-html=", 13) == 0) {
      crisp::diff::Normaliser normaliser;
      crisp::report::Matrix matrix = crisp::report::BuildMatrix(Runs(), normaliser);
      std::ofstream(argv[i] + 13) << crisp::report::MatrixHtml(crisp::report::MatrixJson(matrix));
      return 0;
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
namespace {

// The parts of BM_MatrixHtml, to see where its time goes.
void BM_PartBuildMatrix(benchmark::State& state) {  // results, normalisation, diffs
  crisp::diff::Normaliser normaliser;
  for (auto _ : state) benchmark::DoNotOptimize(crisp::report::BuildMatrix(Runs(), normaliser));
}
BENCHMARK(BM_PartBuildMatrix)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_PartPage(benchmark::State& state) {  // the page from the finished document
  crisp::diff::Normaliser normaliser;
  crisp::report::Matrix matrix = crisp::report::BuildMatrix(Runs(), normaliser);
  for (auto _ : state) benchmark::DoNotOptimize(crisp::report::MatrixHtml(crisp::report::MatrixJson(matrix)));
}
BENCHMARK(BM_PartPage)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
