// What a runtime's locks cost the kubelet, per runtime (endpoints from
// CRISP_BENCH_ENDPOINTS, "name=unix:///path,..."):
//
//  StatusDuringStop  10 containers whose PID 1 ignores SIGTERM are stopped at
//                    once with a 10 s grace period; meanwhile ListContainers
//                    and ContainerStatus are timed back to back for 5 s.
//                    Counters: list_p50_ms, list_p99_ms, status_p50_ms,
//                    status_p99_ms, samples. A runtime that holds one lock
//                    through a stop answers after the grace period.
//  ParallelCycles    20 threads each run RunPodSandbox, CreateContainer,
//                    StartContainer and RemovePodSandbox; one iteration is
//                    one such round. Any error fails the benchmark with its
//                    message; counter `errors`.
//
// bench/run-concurrency-bench runs them on a private crispd (and any other
// endpoints) and prints the figures side by side.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_endpoints.h"
#include "benchmark/benchmark.h"
#include "harness/client/cri_client.h"
#include "harness/client/json_request.h"
#include "runtime/v1/api.pb.h"

namespace {

namespace v1 = runtime::v1;
using crisp::bench::Percentile;
using crisp::bench::ReadFixture;
using crisp::client::CallAs;
using Clock = std::chrono::steady_clock;

double MillisecondsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// A sandbox config as the kubelet would send it, unique per `tag`; the log
// directory is made first, as the kubelet does.
absl::StatusOr<v1::PodSandboxConfig> SandboxConfig(const std::string& tag) {
  v1::PodSandboxConfig sandbox;
  if (absl::Status parsed = crisp::client::ParseJsonInto(ReadFixture("sandbox_config.json"), &sandbox); !parsed.ok()) {
    return parsed;
  }
  sandbox.clear_port_mappings();
  std::string name = "bench-" + tag + "-" + std::to_string(getpid());
  sandbox.mutable_metadata()->set_name(name);
  sandbox.mutable_metadata()->set_uid("uid-" + name);
  sandbox.set_log_directory("/tmp/crisp-bench-logs/" + name);
  std::string mkdir = "mkdir -p " + sandbox.log_directory();
  if (std::system(mkdir.c_str()) != 0) return absl::InternalError("cannot make " + sandbox.log_directory());
  return sandbox;
}

absl::StatusOr<std::string> StartSleeper(crisp::client::CriClient& client, const std::string& pod_id,
                                         const v1::PodSandboxConfig& sandbox, const std::string& name) {
  std::string mkdir = "mkdir -p " + sandbox.log_directory() + "/" + name;
  if (std::system(mkdir.c_str()) != 0) return absl::InternalError("cannot make the container's log directory");
  v1::CreateContainerRequest create;
  create.set_pod_sandbox_id(pod_id);
  create.mutable_config()->mutable_metadata()->set_name(name);
  create.mutable_config()->mutable_image()->set_image("busybox:latest");
  // PID 1 without a handler ignores SIGTERM: a stop takes the whole grace period.
  create.mutable_config()->add_command("sleep");
  create.mutable_config()->add_command("3600");
  create.mutable_config()->set_log_path(name + "/0.log");
  // The kubelet gives a container its pod's namespace modes.
  *create.mutable_config()->mutable_linux()->mutable_security_context()->mutable_namespace_options() =
      sandbox.linux().security_context().namespace_options();
  *create.mutable_sandbox_config() = sandbox;
  auto container = CallAs<v1::CreateContainerResponse>(client, "CreateContainer", create);
  if (!container.ok()) return container.status();
  v1::StartContainerRequest start;
  start.set_container_id(container->container_id());
  if (auto started = CallAs<v1::StartContainerResponse>(client, "StartContainer", start); !started.ok()) {
    return started.status();
  }
  return container->container_id();
}

void RemovePod(crisp::client::CriClient& client, const std::string& pod_id) {
  v1::StopPodSandboxRequest stop;
  stop.set_pod_sandbox_id(pod_id);
  (void)CallAs<v1::StopPodSandboxResponse>(client, "StopPodSandbox", stop);  // Remove retries what Stop missed
  v1::RemovePodSandboxRequest remove;
  remove.set_pod_sandbox_id(pod_id);
  (void)CallAs<v1::RemovePodSandboxResponse>(client, "RemovePodSandbox", remove);  // leaks show in the e2e checks
}

bool Pull(crisp::client::CriClient& client, benchmark::State& state) {
  v1::PullImageRequest pull;
  pull.mutable_image()->set_image("busybox:latest");
  if (auto pulled = CallAs<v1::PullImageResponse>(client, "PullImage", pull); !pulled.ok()) {
    state.SkipWithError(("PullImage: " + std::string(pulled.status().message())).c_str());
    return false;
  }
  return true;
}

void StatusDuringStop(benchmark::State& state, const crisp::client::Endpoint& endpoint) {
  constexpr int kContainers = 10;
  constexpr int kGraceSeconds = 10;
  auto client = crisp::client::NewGrpcCriClient(endpoint, {.default_timeout = absl::Minutes(2)});
  if (!Pull(*client, state)) return;
  std::vector<double> list_ms, status_ms;
  int round = 0;
  for (auto _ : state) {
    ++round;
    absl::StatusOr<v1::PodSandboxConfig> sandbox = SandboxConfig("stop-" + std::to_string(round));
    if (!sandbox.ok()) {
      state.SkipWithError(std::string(sandbox.status().message()).c_str());
      break;
    }
    v1::RunPodSandboxRequest run;
    *run.mutable_config() = *sandbox;
    auto pod = CallAs<v1::RunPodSandboxResponse>(*client, "RunPodSandbox", run);
    if (!pod.ok()) {
      state.SkipWithError(("RunPodSandbox: " + std::string(pod.status().message())).c_str());
      break;
    }
    std::vector<std::string> ids;
    absl::Status failed;
    for (int i = 0; i < kContainers && failed.ok(); ++i) {
      auto id = StartSleeper(*client, pod->pod_sandbox_id(), *sandbox, "sleeper" + std::to_string(i));
      if (id.ok()) ids.push_back(*id); else failed = id.status();
    }
    if (!failed.ok()) {
      RemovePod(*client, pod->pod_sandbox_id());
      state.SkipWithError(("starting the containers: " + std::string(failed.message())).c_str());
      break;
    }
    std::vector<std::thread> stoppers;
    for (const std::string& id : ids) {
      stoppers.emplace_back([&, id] {
        auto own = crisp::client::NewGrpcCriClient(endpoint, {.default_timeout = absl::Minutes(2)});
        v1::StopContainerRequest stop;
        stop.set_container_id(id);
        stop.set_timeout(kGraceSeconds);
        (void)CallAs<v1::StopContainerResponse>(*own, "StopContainer", stop);  // its effect is not what is measured
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let every stop reach its grace period
    auto window = Clock::now();
    size_t next = 0;
    while (MillisecondsSince(window) < 5000) {
      auto start = Clock::now();
      (void)CallAs<v1::ListContainersResponse>(*client, "ListContainers", v1::ListContainersRequest());
      list_ms.push_back(MillisecondsSince(start));
      v1::ContainerStatusRequest status;
      status.set_container_id(ids[next++ % ids.size()]);
      start = Clock::now();
      (void)CallAs<v1::ContainerStatusResponse>(*client, "ContainerStatus", status);
      status_ms.push_back(MillisecondsSince(start));
    }
    for (std::thread& stopper : stoppers) stopper.join();
    RemovePod(*client, pod->pod_sandbox_id());
  }
  state.counters["list_p50_ms"] = Percentile(list_ms, 0.50);
  state.counters["list_p99_ms"] = Percentile(list_ms, 0.99);
  state.counters["status_p50_ms"] = Percentile(status_ms, 0.50);
  state.counters["status_p99_ms"] = Percentile(status_ms, 0.99);
  state.counters["samples"] = static_cast<double>(list_ms.size() + status_ms.size());
}

void ParallelCycles(benchmark::State& state, const crisp::client::Endpoint& endpoint) {
  constexpr int kThreads = 20;
  auto client = crisp::client::NewGrpcCriClient(endpoint, {.default_timeout = absl::Minutes(2)});
  if (!Pull(*client, state)) return;
  std::atomic<int> errors{0};
  std::mutex first_error_mutex;
  std::string first_error;
  int round = 0;
  for (auto _ : state) {
    ++round;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        auto fail = [&](const std::string& what, const absl::Status& status) {
          ++errors;
          std::lock_guard lock(first_error_mutex);
          if (first_error.empty()) first_error = what + ": " + std::string(status.message());
        };
        auto own = crisp::client::NewGrpcCriClient(endpoint, {.default_timeout = absl::Minutes(2)});
        absl::StatusOr<v1::PodSandboxConfig> sandbox =
            SandboxConfig("cycle-" + std::to_string(round) + "-" + std::to_string(t));
        if (!sandbox.ok()) return fail("config", sandbox.status());
        v1::RunPodSandboxRequest run;
        *run.mutable_config() = *sandbox;
        auto pod = CallAs<v1::RunPodSandboxResponse>(*own, "RunPodSandbox", run);
        if (!pod.ok()) return fail("RunPodSandbox", pod.status());
        if (auto id = StartSleeper(*own, pod->pod_sandbox_id(), *sandbox, "sleeper"); !id.ok()) {
          fail("CreateContainer/StartContainer", id.status());
        }
        v1::RemovePodSandboxRequest remove;
        remove.set_pod_sandbox_id(pod->pod_sandbox_id());
        if (auto removed = CallAs<v1::RemovePodSandboxResponse>(*own, "RemovePodSandbox", remove); !removed.ok()) {
          fail("RemovePodSandbox", removed.status());
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
  }
  state.counters["errors"] = errors.load();
  if (errors.load() > 0) state.SkipWithError((std::to_string(errors.load()) + " error(s); first: " + first_error).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  return crisp::bench::RunForEachEndpoint(argc, argv, [](const crisp::client::Endpoint& endpoint) {
    benchmark::RegisterBenchmark(("StatusDuringStop/" + endpoint.name).c_str(),
                                 [endpoint](benchmark::State& state) { StatusDuringStop(state, endpoint); })
        ->Unit(benchmark::kMillisecond)
        ->Iterations(1);
    benchmark::RegisterBenchmark(("ParallelCycles/" + endpoint.name).c_str(),
                                 [endpoint](benchmark::State& state) { ParallelCycles(state, endpoint); })
        ->Unit(benchmark::kMillisecond)
        ->Iterations(5);
  });
}
