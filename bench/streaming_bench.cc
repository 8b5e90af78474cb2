// The streaming half of Exec, per runtime and per transport: what the
// kubelet's clients wait on after the RPC. Endpoints come from
// CRISP_BENCH_ENDPOINTS ("name=unix:///path,..."); each gets a pod with a
// busybox container, made before and removed after its benchmarks.
//
//   ExecRoundTrip/<endpoint>/<transport>: the Exec RPC plus the stream of
//     `echo hi` to its exit status; p50_ms and p95_ms counters.
//   CatThroughput/<endpoint>/<transport>: `cat` of a 100 MiB file through
//     exec stdout; MiB_per_s (median of the runs).
//
// bench/run-streaming-bench turns them into crispd/containerd ratios.
#include <unistd.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bench/bench_endpoints.h"
#include "benchmark/benchmark.h"
#include "harness/client/cri_client.h"
#include "harness/client/json_request.h"
#include "harness/streaming/channel_session.h"
#include "runtime/v1/api.pb.h"

namespace {

namespace v1 = runtime::v1;
using crisp::bench::Percentile;
using crisp::bench::ReadFixture;
using crisp::client::CallAs;
using crisp::streaming::Transport;

constexpr uint64_t kBlobBytes = 100ull << 20;

// A running busybox container in a pod of its own, removed on destruction.
class Sleeper {
 public:
  static absl::StatusOr<std::unique_ptr<Sleeper>> Start(const crisp::client::Endpoint& endpoint, const std::string& tag) {
    std::unique_ptr<Sleeper> sleeper(new Sleeper());
    sleeper->client_ = crisp::client::NewGrpcCriClient(endpoint, {.default_timeout = absl::Minutes(2)});
    auto& client = *sleeper->client_;
    v1::PullImageRequest pull;
    pull.mutable_image()->set_image("busybox:latest");
    if (auto pulled = CallAs<v1::PullImageResponse>(client, "PullImage", pull); !pulled.ok()) return pulled.status();
    v1::PodSandboxConfig sandbox;
    if (absl::Status parsed = crisp::client::ParseJsonInto(ReadFixture("sandbox_config.json"), &sandbox); !parsed.ok()) {
      return parsed;
    }
    sandbox.clear_port_mappings();
    const std::string name = "bench-" + tag + "-" + std::to_string(getpid());
    sandbox.mutable_metadata()->set_name(name);
    sandbox.mutable_metadata()->set_uid("uid-" + name);
    sandbox.set_log_directory("/tmp/crisp-bench-logs/" + name);
    v1::RunPodSandboxRequest run;
    *run.mutable_config() = sandbox;
    auto pod = CallAs<v1::RunPodSandboxResponse>(client, "RunPodSandbox", run);
    if (!pod.ok()) return pod.status();
    sleeper->pod_ = pod->pod_sandbox_id();
    v1::CreateContainerRequest create;
    create.set_pod_sandbox_id(sleeper->pod_);
    create.mutable_config()->mutable_metadata()->set_name("sleeper");
    create.mutable_config()->mutable_image()->set_image("busybox:latest");
    create.mutable_config()->add_command("sleep");
    create.mutable_config()->add_command("3600");
    create.mutable_config()->set_log_path("sleeper.log");
    *create.mutable_sandbox_config() = sandbox;
    auto container = CallAs<v1::CreateContainerResponse>(client, "CreateContainer", create);
    if (!container.ok()) return container.status();
    sleeper->container_ = container->container_id();
    v1::StartContainerRequest start;
    start.set_container_id(sleeper->container_);
    if (auto started = CallAs<v1::StartContainerResponse>(client, "StartContainer", start); !started.ok()) {
      return started.status();
    }
    return sleeper;
  }

  ~Sleeper() {
    if (pod_.empty()) return;
    v1::StopPodSandboxRequest stop;
    stop.set_pod_sandbox_id(pod_);
    (void)CallAs<v1::StopPodSandboxResponse>(*client_, "StopPodSandbox", stop);
    v1::RemovePodSandboxRequest remove;
    remove.set_pod_sandbox_id(pod_);
    (void)CallAs<v1::RemovePodSandboxResponse>(*client_, "RemovePodSandbox", remove);
  }

  absl::Status Run(const std::vector<std::string>& cmd) {
    v1::ExecSyncRequest request;
    request.set_container_id(container_);
    for (const std::string& word : cmd) request.add_cmd(word);
    request.set_timeout(60);
    auto answer = CallAs<v1::ExecSyncResponse>(*client_, "ExecSync", request);
    if (!answer.ok()) return answer.status();
    if (answer->exit_code() != 0) return absl::InternalError("exit code " + std::to_string(answer->exit_code()));
    return absl::OkStatus();
  }

  // Exec `cmd` with stdout and stderr, and follow the URL to its end.
  absl::StatusOr<crisp::streaming::ChannelSessionResult> Exec(const std::vector<std::string>& cmd, Transport transport) {
    v1::ExecRequest request;
    request.set_container_id(container_);
    for (const std::string& word : cmd) request.add_cmd(word);
    request.set_stdout(true);
    request.set_stderr(true);
    auto answer = CallAs<v1::ExecResponse>(*client_, "Exec", request);
    if (!answer.ok()) return answer.status();
    crisp::streaming::ChannelSessionRequest session;
    session.url = answer->url();
    if (session.url.starts_with("//")) session.url = "http:" + session.url;
    session.transport = transport;
    session.streams = {.stdin = false, .stdout = true, .stderr = true, .tty = false};
    session.timeout_ms = 120000;
    session.max_capture = 4096;  // counted, not kept
    crisp::streaming::ChannelSessionResult result = crisp::streaming::RunChannelSession(session);
    if (!result.error.empty()) return absl::UnavailableError(result.error);
    return result;
  }

 private:
  Sleeper() = default;
  std::unique_ptr<crisp::client::CriClient> client_;
  std::string pod_, container_;
};

const char* Name(Transport transport) { return transport == Transport::kSpdy ? "spdy" : "websocket"; }

void ExecRoundTrip(benchmark::State& state, const crisp::client::Endpoint& endpoint, Transport transport) {
  auto sleeper = Sleeper::Start(endpoint, std::string("rt-") + Name(transport));
  if (!sleeper.ok()) return state.SkipWithError(std::string(sleeper.status().message()).c_str());
  std::vector<double> samples;
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    auto result = (*sleeper)->Exec({"echo", "hi"}, transport);
    auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    state.SetIterationTime(elapsed);
    if (!result.ok()) return state.SkipWithError(std::string(result.status().message()).c_str());
    if (result->channels[1] != "hi\n") return state.SkipWithError(("stdout was not hi: " + result->channels[1]).c_str());
    samples.push_back(elapsed * 1000);
  }
  state.counters["p50_ms"] = Percentile(samples, 0.50);
  state.counters["p95_ms"] = Percentile(samples, 0.95);
}

void CatThroughput(benchmark::State& state, const crisp::client::Endpoint& endpoint, Transport transport) {
  auto sleeper = Sleeper::Start(endpoint, std::string("cat-") + Name(transport));
  if (!sleeper.ok()) return state.SkipWithError(std::string(sleeper.status().message()).c_str());
  if (absl::Status made = (*sleeper)->Run({"sh", "-c", "head -c 104857600 /dev/zero > /tmp/blob"}); !made.ok()) {
    return state.SkipWithError(("making the 100 MiB file: " + std::string(made.message())).c_str());
  }
  std::vector<double> rates;
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    auto result = (*sleeper)->Exec({"cat", "/tmp/blob"}, transport);
    auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    state.SetIterationTime(elapsed);
    if (!result.ok()) return state.SkipWithError(std::string(result.status().message()).c_str());
    if (result->byte_counts[1] != kBlobBytes) {
      return state.SkipWithError(("stdout carried " + std::to_string(result->byte_counts[1]) + " bytes").c_str());
    }
    rates.push_back(static_cast<double>(kBlobBytes) / (1 << 20) / elapsed);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kBlobBytes));
  state.counters["MiB_per_s"] = Percentile(rates, 0.50);
}

}  // namespace

int main(int argc, char** argv) {
  return crisp::bench::RunForEachEndpoint(argc, argv, [](const crisp::client::Endpoint& endpoint) {
    for (Transport transport : {Transport::kWebSocket, Transport::kSpdy}) {
      const std::string suffix = "/" + endpoint.name + "/" + Name(transport);
      benchmark::RegisterBenchmark(("ExecRoundTrip" + suffix).c_str(),
                                   [endpoint, transport](benchmark::State& state) {
                                     ExecRoundTrip(state, endpoint, transport);
                                   })
          ->UseManualTime()
          ->Unit(benchmark::kMillisecond)
          ->Iterations(50);
      benchmark::RegisterBenchmark(("CatThroughput" + suffix).c_str(),
                                   [endpoint, transport](benchmark::State& state) {
                                     CatThroughput(state, endpoint, transport);
                                   })
          ->UseManualTime()
          ->Unit(benchmark::kMillisecond)
          ->Iterations(5);
    }
  });
}
