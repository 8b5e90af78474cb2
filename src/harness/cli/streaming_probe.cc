#include "harness/cli/streaming_probe.h"

#include <unistd.h>

#include <filesystem>
#include <utility>

#include "common/strings.h"
#include "harness/streaming/channel_session.h"
#include "runtime/v1/api.pb.h"

namespace crisp::cli {
namespace {

namespace v1 = runtime::v1;
using client::CallAs;

// What each transport may offer, newest first: the remotecommand versions
// (v5 adds closing stdin, v4 the exit code status, v3 resize), their base64
// WebSocket forms, and port forwarding's.
struct Candidate {
  const char* rpc;
  streaming::Transport transport;
  const char* protocol;
};
constexpr Candidate kCandidates[] = {
    {"Exec", streaming::Transport::kSpdy, "v5.channel.k8s.io"},
    {"Exec", streaming::Transport::kSpdy, "v4.channel.k8s.io"},
    {"Exec", streaming::Transport::kSpdy, "v3.channel.k8s.io"},
    {"Exec", streaming::Transport::kSpdy, "v2.channel.k8s.io"},
    {"Exec", streaming::Transport::kSpdy, "channel.k8s.io"},
    {"Exec", streaming::Transport::kWebSocket, "v5.channel.k8s.io"},
    {"Exec", streaming::Transport::kWebSocket, "v4.channel.k8s.io"},
    {"Exec", streaming::Transport::kWebSocket, "v4.base64.channel.k8s.io"},
    {"Exec", streaming::Transport::kWebSocket, "channel.k8s.io"},
    {"Exec", streaming::Transport::kWebSocket, "base64.channel.k8s.io"},
    {"PortForward", streaming::Transport::kSpdy, "portforward.k8s.io"},
    {"PortForward", streaming::Transport::kWebSocket, "v4.channel.k8s.io"},
};

const char* TransportName(streaming::Transport transport) {
  return transport == streaming::Transport::kSpdy ? "spdy" : "websocket";
}

// The pod, its container, and their removal.
class ProbePod {
 public:
  ProbePod(client::CriClient& client, absl::Duration timeout) : client_(client), timeout_(timeout) {}
  ~ProbePod() { (void)Remove(); }

  absl::Status Start(const std::string& image) {
    v1::PullImageRequest pull;
    pull.mutable_image()->set_image(image);
    if (auto pulled = Call<v1::PullImageResponse>("PullImage", pull); !pulled.ok()) return pulled.status();
    const std::string name = crisp::StrCat("crisp-streaming-probe-", getpid());
    v1::PodSandboxConfig& config = sandbox_;
    config.mutable_metadata()->set_name(name);
    config.mutable_metadata()->set_namespace_("crisp");
    config.mutable_metadata()->set_uid(crisp::StrCat("uid-", name));
    config.set_hostname(name);
    // As the kubelet does: the log directory exists before the pod.
    config.set_log_directory(crisp::StrCat("/tmp/crisp/pods/crisp_", name));
    std::error_code ignored;
    std::filesystem::create_directories(config.log_directory(), ignored);
    (*config.mutable_labels())["crisp.io/probe"] = "streaming";
    v1::RunPodSandboxRequest run;
    *run.mutable_config() = config;
    auto pod = Call<v1::RunPodSandboxResponse>("RunPodSandbox", run);
    if (!pod.ok()) return pod.status();
    pod_ = pod->pod_sandbox_id();
    v1::CreateContainerRequest create;
    create.set_pod_sandbox_id(pod_);
    create.mutable_config()->mutable_metadata()->set_name("sleeper");
    create.mutable_config()->mutable_image()->set_image(image);
    create.mutable_config()->add_command("sleep");
    create.mutable_config()->add_command("3600");
    create.mutable_config()->set_log_path("sleeper.log");
    *create.mutable_sandbox_config() = config;
    auto container = Call<v1::CreateContainerResponse>("CreateContainer", create);
    if (!container.ok()) return container.status();
    container_ = container->container_id();
    v1::StartContainerRequest start;
    start.set_container_id(container_);
    return Call<v1::StartContainerResponse>("StartContainer", start).status();
  }

  absl::Status Remove() {
    if (pod_.empty()) return absl::OkStatus();
    v1::StopPodSandboxRequest stop;
    stop.set_pod_sandbox_id(pod_);
    absl::Status stopped = Call<v1::StopPodSandboxResponse>("StopPodSandbox", stop).status();
    v1::RemovePodSandboxRequest remove;
    remove.set_pod_sandbox_id(pod_);
    absl::Status removed = Call<v1::RemovePodSandboxResponse>("RemovePodSandbox", remove).status();
    std::error_code ignored;
    std::filesystem::remove_all(sandbox_.log_directory(), ignored);
    const std::string id = std::exchange(pod_, "");
    if (!stopped.ok() || !removed.ok()) {
      return absl::InternalError(crisp::StrCat("the probe pod ", id, " was not removed: ",
                                               (stopped.ok() ? removed : stopped).message()));
    }
    return absl::OkStatus();
  }

  // A fresh URL for the candidate's RPC.
  absl::StatusOr<std::string> Url(const Candidate& candidate) {
    if (std::string_view(candidate.rpc) == "Exec") {
      v1::ExecRequest exec;
      exec.set_container_id(container_);
      exec.add_cmd("true");
      exec.set_stdout(true);
      auto answer = Call<v1::ExecResponse>("Exec", exec);
      if (!answer.ok()) return answer.status();
      return answer->url();
    }
    // The kubelet passes a WebSocket client's ports and none for SPDY.
    v1::PortForwardRequest forward;
    forward.set_pod_sandbox_id(pod_);
    if (candidate.transport == streaming::Transport::kWebSocket) forward.add_port(80);
    auto answer = Call<v1::PortForwardResponse>("PortForward", forward);
    if (!answer.ok()) return answer.status();
    return answer->url();
  }

 private:
  template <typename Response>
  absl::StatusOr<Response> Call(std::string_view method, const google::protobuf::Message& request) {
    return CallAs<Response>(client_, method, request, {.timeout = timeout_});
  }

  client::CriClient& client_;
  absl::Duration timeout_;
  v1::PodSandboxConfig sandbox_;
  std::string pod_, container_;
};

StreamingProbe Probe(ProbePod& pod, const Candidate& candidate) {
  StreamingProbe probe{candidate.rpc, TransportName(candidate.transport), candidate.protocol, false, ""};
  absl::StatusOr<std::string> url = pod.Url(candidate);
  if (!url.ok()) {
    probe.detail = crisp::StrCat(candidate.rpc, ": ", url.status().message());
    return probe;
  }
  streaming::ChannelSessionRequest request;
  request.url = url->starts_with("//") ? "http:" + *url : *url;
  request.transport = candidate.transport;
  request.subprotocols = {candidate.protocol};
  request.streams = {.stdin = false, .stdout = true, .stderr = false, .tty = false};
  if (std::string_view(candidate.rpc) == "PortForward") request.forward_ports = {80};
  request.timeout_ms = 3000;
  streaming::ChannelSessionResult result = streaming::RunChannelSession(request);
  // Only the upgrade counts: what follows may be a protocol crisp reads as v4.
  probe.accepted = result.connected && result.protocol == candidate.protocol;
  if (!probe.accepted) probe.detail = result.error.empty() ? "not chosen" : result.error;
  return probe;
}

}  // namespace

StreamingProbeReport ProbeStreaming(client::CriClient& client, absl::Duration timeout, const std::string& image) {
  StreamingProbeReport report;
  ProbePod pod(client, timeout);
  if (absl::Status started = pod.Start(image); !started.ok()) {
    report.error = crisp::StrCat("the probe pod could not be started: ", started.message());
    if (absl::Status removed = pod.Remove(); !removed.ok()) crisp::StrAppend(&report.error, "; ", removed.message());
    return report;
  }
  for (const Candidate& candidate : kCandidates) report.probes.push_back(Probe(pod, candidate));
  if (absl::Status removed = pod.Remove(); !removed.ok()) report.error = std::string(removed.message());
  return report;
}

std::vector<std::pair<std::string, std::string>> StreamingRows(const StreamingProbeReport& report) {
  std::vector<std::pair<std::string, std::string>> rows;
  if (!report.error.empty() && report.probes.empty()) {
    rows.emplace_back("Streaming", crisp::StrCat("unknown (", report.error, ")"));
    return rows;
  }
  for (const char* rpc : {"Exec", "PortForward"}) {
    for (const char* transport : {"spdy", "websocket"}) {
      std::string accepted, refused;
      for (const StreamingProbe& probe : report.probes) {
        if (probe.rpc != rpc || probe.transport != transport) continue;
        std::string& into = probe.accepted ? accepted : refused;
        crisp::StrAppend(&into, into.empty() ? "" : ", ", probe.protocol);
      }
      rows.emplace_back(crisp::StrCat("Streaming ", rpc, " over ", std::string_view(transport) == "spdy" ? "SPDY/3.1" : "WebSocket"),
                        crisp::StrCat(accepted.empty() ? "none" : accepted,
                                      refused.empty() ? "" : crisp::StrCat("  (not: ", refused, ")")));
    }
  }
  if (!report.error.empty()) rows.emplace_back("Streaming probe", report.error);
  return rows;
}

nlohmann::json StreamingToJson(const StreamingProbeReport& report) {
  nlohmann::json probes = nlohmann::json::array();
  for (const StreamingProbe& probe : report.probes) {
    probes.push_back({{"rpc", probe.rpc},
                      {"transport", probe.transport},
                      {"protocol", probe.protocol},
                      {"accepted", probe.accepted},
                      {"detail", probe.detail}});
  }
  nlohmann::json out = {{"probes", std::move(probes)}};
  if (!report.error.empty()) out["error"] = report.error;
  return out;
}

}  // namespace crisp::cli
