// Pod plus container start from scratch, per runtime: RunPodSandbox,
// CreateContainer (busybox sleeping) and StartContainer, timed as one; the
// teardown is not timed. Endpoints come from CRISP_BENCH_ENDPOINTS as
// "name=unix:///path,name=unix:///path". Each benchmark reports p50_ms and
// p95_ms counters; bench/run-lifecycle-bench turns them into ratios.
//
// And the floor no runtime can go below on this machine: bare `runc run`
// of a trivial container (busybox `true`, from a bundle made once), timed
// to its exit (RuncRunFloor).
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include <filesystem>
#include <fstream>

#include "bench/bench_endpoints.h"
#include "common/subprocess.h"
#include "nlohmann/json.hpp"
#include "benchmark/benchmark.h"
#include "harness/client/cri_client.h"
#include "harness/client/json_request.h"
#include "runtime/v1/api.pb.h"

namespace {

namespace v1 = runtime::v1;
using crisp::bench::Percentile;
using crisp::bench::ReadFixture;
using crisp::client::CallAs;

void PodAndContainerStart(benchmark::State& state, const crisp::client::Endpoint& endpoint) {
  auto client = crisp::client::NewGrpcCriClient(endpoint, {.default_timeout = absl::Minutes(2)});
  v1::PullImageRequest pull;
  pull.mutable_image()->set_image("busybox:latest");
  if (auto pulled = CallAs<v1::PullImageResponse>(*client, "PullImage", pull); !pulled.ok()) {
    state.SkipWithError(("PullImage: " + std::string(pulled.status().message())).c_str());
    return;
  }
  v1::PodSandboxConfig sandbox;
  if (!crisp::client::ParseJsonInto(ReadFixture("sandbox_config.json"), &sandbox).ok()) {
    state.SkipWithError("bad fixture");
    return;
  }
  sandbox.clear_port_mappings();
  std::vector<double> samples;
  int n = 0;
  for (auto _ : state) {
    ++n;
    sandbox.mutable_metadata()->set_name("bench-" + std::to_string(n) + "-" + std::to_string(getpid()));
    sandbox.mutable_metadata()->set_uid("bench-uid-" + std::to_string(n) + "-" + std::to_string(getpid()));
    sandbox.set_log_directory("/tmp/crisp-bench-logs/" + sandbox.metadata().name());
    auto start = std::chrono::steady_clock::now();
    v1::RunPodSandboxRequest run;
    *run.mutable_config() = sandbox;
    auto pod = CallAs<v1::RunPodSandboxResponse>(*client, "RunPodSandbox", run);
    if (!pod.ok()) {
      state.SkipWithError(("RunPodSandbox: " + std::string(pod.status().message())).c_str());
      break;
    }
    v1::CreateContainerRequest create;
    create.set_pod_sandbox_id(pod->pod_sandbox_id());
    create.mutable_config()->mutable_metadata()->set_name("sleeper");
    create.mutable_config()->mutable_image()->set_image("busybox:latest");
    create.mutable_config()->add_command("sleep");
    create.mutable_config()->add_command("3600");
    create.mutable_config()->set_log_path("sleeper.log");
    *create.mutable_sandbox_config() = sandbox;
    auto container = CallAs<v1::CreateContainerResponse>(*client, "CreateContainer", create);
    absl::Status started = container.status();
    if (container.ok()) {
      v1::StartContainerRequest start_request;
      start_request.set_container_id(container->container_id());
      started = CallAs<v1::StartContainerResponse>(*client, "StartContainer", start_request).status();
    }
    auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    state.SetIterationTime(elapsed);
    samples.push_back(elapsed * 1000);
    state.PauseTiming();
    v1::StopPodSandboxRequest stop;
    stop.set_pod_sandbox_id(pod->pod_sandbox_id());
    (void)CallAs<v1::StopPodSandboxResponse>(*client, "StopPodSandbox", stop);
    v1::RemovePodSandboxRequest remove;
    remove.set_pod_sandbox_id(pod->pod_sandbox_id());
    (void)CallAs<v1::RemovePodSandboxResponse>(*client, "RemovePodSandbox", remove);
    state.ResumeTiming();
    if (!started.ok()) {
      state.SkipWithError(("container start: " + std::string(started.message())).c_str());
      break;
    }
  }
  if (samples.empty()) return;
  state.counters["p50_ms"] = Percentile(samples, 0.50);
  state.counters["p95_ms"] = Percentile(samples, 0.95);
}

void RuncRunFloor(benchmark::State& state) {
  namespace fs = std::filesystem;
  const std::string dir = "/tmp/crisp-runc-floor-" + std::to_string(getpid());
  std::error_code error;
  fs::create_directories(dir + "/bundle/rootfs/bin", error);
  fs::copy_file("/bin/busybox", dir + "/bundle/rootfs/bin/busybox", error);
  if (error) {
    state.SkipWithError(("a bundle with /bin/busybox (busybox-static): " + error.message()).c_str());
    return;
  }
  auto run = [](std::vector<std::string> argv) {
    crisp::RunOptions options;
    options.spawn.argv = std::move(argv);
    options.timeout = absl::Seconds(30);
    return crisp::RunProgram(options);
  };
  // runc's own default spec, made to run `true` without a terminal.
  absl::StatusOr<crisp::RunResult> spec = run({"/usr/bin/runc", "spec", "--bundle", dir + "/bundle"});
  nlohmann::json config = nlohmann::json::parse(std::ifstream(dir + "/bundle/config.json"), nullptr, false);
  if (!spec.ok() || !spec->status.success() || !config.is_object()) {
    state.SkipWithError("runc spec failed");
    fs::remove_all(dir, error);
    return;
  }
  config["process"]["terminal"] = false;
  config["process"]["args"] = {"/bin/busybox", "true"};
  std::ofstream(dir + "/bundle/config.json") << config.dump();
  std::vector<double> samples;
  int n = 0;
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    absl::StatusOr<crisp::RunResult> ran = run({"/usr/bin/runc", "--root", dir + "/state", "run", "--bundle", dir + "/bundle",
                                                "floor-" + std::to_string(++n)});
    auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!ran.ok() || !ran->status.success()) {
      state.SkipWithError(("runc run: " + (ran.ok() ? ran->stderr_text : std::string(ran.status().message()))).c_str());
      break;
    }
    state.SetIterationTime(elapsed);
    samples.push_back(elapsed * 1000);
  }
  fs::remove_all(dir, error);
  if (samples.empty()) return;
  state.counters["p50_ms"] = Percentile(samples, 0.50);
  state.counters["p95_ms"] = Percentile(samples, 0.95);
}

}  // namespace

int main(int argc, char** argv) {
  return crisp::bench::RunForEachEndpoint(argc, argv, [](const crisp::client::Endpoint& endpoint) {
    benchmark::RegisterBenchmark(("PodAndContainerStart/" + endpoint.name).c_str(),
                                 [endpoint](benchmark::State& state) { PodAndContainerStart(state, endpoint); })
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond)
        ->Iterations(30);
  }, [] {
    benchmark::RegisterBenchmark("RuncRunFloor", RuncRunFloor)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(30);
  });
}
