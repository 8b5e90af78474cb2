#include "reference_runtime/server/services.h"

#include <arpa/inet.h>

#include <algorithm>
#include <functional>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "common/build_info.h"
#include "common/subprocess.h"
#include "common/strings.h"
#include "reference_runtime/container/metrics.h"
#include "reference_runtime/server/call.h"

namespace crisp::crispd {
namespace {

namespace v1 = runtime::v1;

// A streaming URL as the quirks want it: `http://host:port/...`, or the
// same without its scheme.
std::string AsAnswered(std::string url, const Quirks& quirks) {
  if (quirks.scheme_relative_urls && url.starts_with("http:")) url.erase(0, 5);
  return url;
}

// Under the unknown-on-missing quirk, Stop and Remove of an object whose
// lookup (`known`) answers NotFound answer Unknown; otherwise `act` answers.
absl::Status UnlessMissing(const Quirks& quirks, const std::function<absl::Status()>& known, std::string_view what,
                           const std::string& id, const std::function<absl::Status()>& act) {
  if (quirks.unknown_on_missing && absl::IsNotFound(known())) {
    return absl::UnknownError(crisp::StrCat(what, " \"", id, "\" does not exist"));
  }
  return act();
}

void FillImage(const ImageRecord& record, v1::Image* image) {
  image->set_id(record.id);
  for (const auto& tag : record.repo_tags) image->add_repo_tags(tag);
  for (const auto& digest : record.repo_digests) image->add_repo_digests(digest);
  image->set_size(static_cast<uint64_t>(record.size));
  // "uid: UID that will run the command(s)... username: if uid is not set".
  std::optional<int64_t> uid;
  std::string username;
  SplitImageUser(record.config.value("User", ""), &uid, &username);
  if (uid) {
    image->mutable_uid()->set_value(*uid);
  } else if (!username.empty()) {
    image->set_username(username);
  }
}

// "10.88.0.0/16", "fd00::/64": an address and a prefix length that fits it.
bool IsCidr(const std::string& text) {
  size_t slash = text.find('/');
  if (slash == std::string::npos || slash + 1 >= text.size()) return false;
  std::string address = text.substr(0, slash);
  const std::string bits = text.substr(slash + 1);
  if (bits.size() > 3 || !std::all_of(bits.begin(), bits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  unsigned char buffer[16];
  if (inet_pton(AF_INET, address.c_str(), buffer) == 1) return std::stoi(bits) <= 32;
  if (inet_pton(AF_INET6, address.c_str(), buffer) == 1) return std::stoi(bits) <= 128;
  return false;
}

// ExecRequest and AttachRequest: "One of `stdin`, `stdout`, and `stderr`
// MUST be true. If `tty` is true, `stderr` MUST be false."
template <typename Request>
absl::Status CheckStreams(const Request& request) {
  if (!request.stdin() && !request.stdout() && !request.stderr()) {
    return absl::InvalidArgumentError("one of stdin, stdout and stderr must be true");
  }
  if (request.tty() && request.stderr()) return absl::InvalidArgumentError("tty and stderr cannot both be true");
  return absl::OkStatus();
}

// Why CRIU cannot checkpoint on this host, in a line; empty if `criu check` passes.
std::string CriuProblem() {
  RunOptions options;
  options.spawn.argv = {"criu", "check"};
  options.timeout = absl::Seconds(30);
  absl::StatusOr<RunResult> result = RunProgram(options);
  if (!result.ok()) return crisp::StrCat("criu: ", result.status().message());
  if (result->status.success()) return "";
  std::string said = result->stderr_text.empty() ? result->stdout_text : result->stderr_text;
  // CRIU's last "Error" line says what stopped it.
  std::string last;
  for (absl::string_view line : absl::StrSplit(said, '\n')) {
    if (absl::StrContains(line, "Error")) last = std::string(line);
  }
  return crisp::StrCat("`criu check` ", result->status.Describe(), last.empty() ? "" : ": " + last);
}

}  // namespace

grpc::Status RuntimeServiceImpl::Version(grpc::ServerContext*, const v1::VersionRequest*,
                                         v1::VersionResponse* response) {
  return AnswerRpc("Version", [&] {
    response->set_version("0.1.0");
    response->set_runtime_name("crispd");
    response->set_runtime_version(kCrispVersion);
    response->set_runtime_api_version("v1");
    return absl::OkStatus();
  });
}

grpc::Status RuntimeServiceImpl::Status(grpc::ServerContext*, const v1::StatusRequest* request,
                                        v1::StatusResponse* response) {
  return AnswerRpc("Status", [&] {
    if (request->verbose()) {
      // "Info can contain anything": crispd's settings, as JSON, under "config".
      nlohmann::json config = config_;
      absl::MutexLock lock(&mu_);
      config["podCIDRFromKubelet"] = pod_cidr_;
      (*response->mutable_info())["config"] = config.dump();
      (*response->mutable_info())["version"] = kCrispVersion;
    }
    auto* runtime = response->mutable_status()->add_conditions();
    runtime->set_type("RuntimeReady");
    runtime->set_status(true);
    std::vector<std::string> handlers = sandboxes_.Handlers();
    handlers.push_back("");  // the default: runc
    for (std::string& name : handlers) {
      v1::RuntimeHandler* handler = response->add_runtime_handlers();
      handler->mutable_features()->set_recursive_read_only_mounts(sandboxes_.RecursiveReadOnly(name));
      handler->set_name(std::move(name));
    }
    // Strict is honoured, and ContainerStatus.user says what was given.
    response->mutable_features()->set_supplemental_groups_policy(true);
    auto* network = response->mutable_status()->add_conditions();
    network->set_type("NetworkReady");
    std::string why;
    network->set_status(sandboxes_.NetworkReady(&why));
    if (!network->status()) {
      network->set_reason("NetworkPluginNotReady");
      network->set_message(why);
    }
    return absl::OkStatus();
  });
}

grpc::Status RuntimeServiceImpl::RuntimeConfig(grpc::ServerContext*, const v1::RuntimeConfigRequest*,
                                               v1::RuntimeConfigResponse* response) {
  return AnswerRpc("RuntimeConfig", [&] {
    // This host has no systemd as PID 1: cgroupfs is the only driver.
    response->mutable_linux()->set_cgroup_driver(v1::CGROUPFS);
    return absl::OkStatus();
  });
}

grpc::Status RuntimeServiceImpl::UpdateRuntimeConfig(grpc::ServerContext*, const v1::UpdateRuntimeConfigRequest* request,
                                                     v1::UpdateRuntimeConfigResponse*) {
  return AnswerRpc("UpdateRuntimeConfig", [&] {
    // "If the CIDR is empty, runtimes should omit it." A CIDR is checked and
    // kept (Status verbose shows it); crispd's network keeps the subnet it
    // was started with (--pod-cidr), as containerd does without a CNI
    // config template: the bridge and the pods already on it stay valid.
    const std::string& cidr = request->runtime_config().network_config().pod_cidr();
    if (cidr.empty()) return absl::OkStatus();
    for (absl::string_view piece : absl::StrSplit(cidr, ',')) {
      std::string one(piece);
      if (!IsCidr(one)) return absl::InvalidArgumentError(crisp::StrCat("pod_cidr \"", one, "\" is not a CIDR"));
    }
    absl::MutexLock lock(&mu_);
    pod_cidr_ = cidr;
    return absl::OkStatus();
  });
}

grpc::Status RuntimeServiceImpl::RunPodSandbox(grpc::ServerContext*, const v1::RunPodSandboxRequest* request,
                                               v1::RunPodSandboxResponse* response) {
  return AnswerRpc("RunPodSandbox", [&] {
    // "Runtimes must ensure the sandbox is in the ready state on success."
    absl::StatusOr<std::string> id = sandboxes_.Run(request->config(), request->runtime_handler());
    if (!id.ok()) return id.status();
    response->set_pod_sandbox_id(*id);
    return absl::OkStatus();
  });
}

grpc::Status RuntimeServiceImpl::StopPodSandbox(grpc::ServerContext*, const v1::StopPodSandboxRequest* request,
                                                v1::StopPodSandboxResponse*) {
  return AnswerRpc("StopPodSandbox", [&] {
    const std::string& id = request->pod_sandbox_id();
    return UnlessMissing(quirks_, [&] { return sandboxes_.Info(id).status(); }, "pod sandbox", id, [&] { return sandboxes_.Stop(id); });
  });
}

grpc::Status RuntimeServiceImpl::RemovePodSandbox(grpc::ServerContext*, const v1::RemovePodSandboxRequest* request,
                                                  v1::RemovePodSandboxResponse*) {
  return AnswerRpc("RemovePodSandbox", [&] {
    const std::string& id = request->pod_sandbox_id();
    return UnlessMissing(quirks_, [&] { return sandboxes_.Info(id).status(); }, "pod sandbox", id, [&] { return sandboxes_.Remove(id); });
  });
}

grpc::Status RuntimeServiceImpl::PodSandboxStatus(grpc::ServerContext*, const v1::PodSandboxStatusRequest* request,
                                                  v1::PodSandboxStatusResponse* response) {
  return AnswerRpc("PodSandboxStatus", [&] {
    // "If the PodSandbox is not present, returns an error."
    absl::StatusOr<v1::PodSandboxStatusResponse> status = sandboxes_.Status(request->pod_sandbox_id(), request->verbose());
    if (!status.ok()) return status.status();
    *response = *std::move(status);
    return absl::OkStatus();
  });
}

grpc::Status RuntimeServiceImpl::ListPodSandbox(grpc::ServerContext*, const v1::ListPodSandboxRequest* request,
                                                v1::ListPodSandboxResponse* response) {
  return AnswerRpc("ListPodSandbox", [&] {
    for (v1::PodSandbox& item : sandboxes_.List(request->filter())) *response->add_items() = std::move(item);
    return absl::OkStatus();
  });
}

grpc::Status RuntimeServiceImpl::CreateContainer(grpc::ServerContext*, const v1::CreateContainerRequest* request,
                                                 v1::CreateContainerResponse* response) {
  return AnswerRpc("CreateContainer", [&] {
    absl::StatusOr<std::string> id = containers_.Create(request->pod_sandbox_id(), request->config());
    if (!id.ok()) return id.status();
    response->set_container_id(*id);
    return absl::OkStatus();
  });
}

grpc::Status RuntimeServiceImpl::StartContainer(grpc::ServerContext*, const v1::StartContainerRequest* request,
                                                v1::StartContainerResponse*) {
  return AnswerRpc("StartContainer", [&] { return containers_.Start(request->container_id()); });
}

grpc::Status RuntimeServiceImpl::StopContainer(grpc::ServerContext*, const v1::StopContainerRequest* request,
                                               v1::StopContainerResponse*) {
  return AnswerRpc("StopContainer", [&] {
    const std::string& id = request->container_id();
    return UnlessMissing(quirks_, [&] { return containers_.Status(id, false).status(); }, "container", id,
                         [&] { return containers_.Stop(id, request->timeout()); });
  });
}

grpc::Status RuntimeServiceImpl::RemoveContainer(grpc::ServerContext*, const v1::RemoveContainerRequest* request,
                                                 v1::RemoveContainerResponse*) {
  return AnswerRpc("RemoveContainer", [&] {
    const std::string& id = request->container_id();
    return UnlessMissing(quirks_, [&] { return containers_.Status(id, false).status(); }, "container", id,
                         [&] { return containers_.Remove(id); });
  });
}

grpc::Status RuntimeServiceImpl::UpdateContainerResources(grpc::ServerContext*,
                                                          const v1::UpdateContainerResourcesRequest* request,
                                                          v1::UpdateContainerResourcesResponse*) {
  return AnswerRpc("UpdateContainerResources", [&] {
    return containers_.UpdateResources(request->container_id(), request->linux());
  });
}

grpc::Status RuntimeServiceImpl::ListMetricDescriptors(grpc::ServerContext*, const v1::ListMetricDescriptorsRequest*,
                                                       v1::ListMetricDescriptorsResponse* response) {
  return AnswerRpc("ListMetricDescriptors", [&] {
    for (v1::MetricDescriptor& descriptor : MetricDescriptors()) *response->add_descriptors() = std::move(descriptor);
    return absl::OkStatus();
  });
}

grpc::Status RuntimeServiceImpl::ListPodSandboxMetrics(grpc::ServerContext*, const v1::ListPodSandboxMetricsRequest*,
                                                       v1::ListPodSandboxMetricsResponse* response) {
  return AnswerRpc("ListPodSandboxMetrics", [&] {
    for (const v1::PodSandboxStats& stats : containers_.ListPodStats(v1::PodSandboxStatsFilter())) {
      *response->add_pod_metrics() = PodMetrics(stats);
    }
    return absl::OkStatus();
  });
}

grpc::Status RuntimeServiceImpl::GetContainerEvents(grpc::ServerContext* context, const v1::GetEventsRequest*,
                                                    grpc::ServerWriter<v1::ContainerEventResponse>* writer) {
  return AnswerRpc("GetContainerEvents", [&]() -> absl::Status {
    if (events_ == nullptr) return absl::UnimplementedError("this crispd publishes no events");
    std::shared_ptr<EventBus::Subscription> subscription = events_->Subscribe();
    // Headers now: the client knows it is subscribed before anything happens.
    writer->SendInitialMetadata();
    while (!context->IsCancelled()) {
      std::optional<LifecycleEvent> event = subscription->Next(absl::Seconds(1));
      if (!event) {
        containers_.NoticeExits();  // an exit nobody asked about is an event too
        continue;
      }
      v1::ContainerEventResponse response;
      response.set_container_id(event->id);
      response.set_container_event_type(event->type);
      response.set_created_at(event->at);
      if (absl::StatusOr<v1::PodSandboxStatusResponse> pod = sandboxes_.Status(event->sandbox_id, false); pod.ok()) {
        *response.mutable_pod_sandbox_status() = pod->status();
      }
      v1::ContainerFilter in_pod;
      in_pod.set_pod_sandbox_id(event->sandbox_id);
      for (const v1::Container& container : containers_.List(in_pod)) {
        if (absl::StatusOr<v1::ContainerStatusResponse> status = containers_.Status(container.id(), false); status.ok()) {
          *response.add_containers_statuses() = status->status();
        }
      }
      if (!writer->Write(response)) break;  // the client is gone
    }
    return absl::OkStatus();
  });
}

grpc::Status RuntimeServiceImpl::CheckpointContainer(grpc::ServerContext*, const v1::CheckpointContainerRequest* request,
                                                     v1::CheckpointContainerResponse*) {
  return AnswerRpc("CheckpointContainer", [&]() -> absl::Status {
    // The container first: an unknown one is NotFound whatever the host has.
    absl::StatusOr<v1::ContainerStatusResponse> status = containers_.Status(request->container_id(), false);
    if (!status.ok()) return status.status();
    static const std::string criu = CriuProblem();  // once: the host does not change under crispd
    return absl::UnimplementedError(crisp::StrCat(
        "crispd cannot checkpoint containers: ",
        criu.empty() ? "its runc checkpoint path is not built yet" : crisp::StrCat("CRIU cannot run here (", criu, ")")));
  });
}

grpc::Status RuntimeServiceImpl::ContainerStats(grpc::ServerContext*, const v1::ContainerStatsRequest* request,
                                                v1::ContainerStatsResponse* response) {
  return AnswerRpc("ContainerStats", [&] {
    absl::StatusOr<v1::ContainerStats> stats = containers_.Stats(request->container_id());
    if (!stats.ok()) return stats.status();
    *response->mutable_stats() = *std::move(stats);
    return absl::OkStatus();
  });
}

grpc::Status RuntimeServiceImpl::ListContainerStats(grpc::ServerContext*, const v1::ListContainerStatsRequest* request,
                                                    v1::ListContainerStatsResponse* response) {
  return AnswerRpc("ListContainerStats", [&] {
    for (v1::ContainerStats& item : containers_.ListStats(request->filter())) *response->add_stats() = std::move(item);
    return absl::OkStatus();
  });
}

grpc::Status RuntimeServiceImpl::PodSandboxStats(grpc::ServerContext*, const v1::PodSandboxStatsRequest* request,
                                                 v1::PodSandboxStatsResponse* response) {
  return AnswerRpc("PodSandboxStats", [&] {
    absl::StatusOr<v1::PodSandboxStats> stats = containers_.PodStats(request->pod_sandbox_id());
    if (!stats.ok()) return stats.status();
    *response->mutable_stats() = *std::move(stats);
    return absl::OkStatus();
  });
}

grpc::Status RuntimeServiceImpl::ListPodSandboxStats(grpc::ServerContext*, const v1::ListPodSandboxStatsRequest* request,
                                                     v1::ListPodSandboxStatsResponse* response) {
  return AnswerRpc("ListPodSandboxStats", [&] {
    for (v1::PodSandboxStats& item : containers_.ListPodStats(request->filter())) *response->add_stats() = std::move(item);
    return absl::OkStatus();
  });
}

grpc::Status RuntimeServiceImpl::ListContainers(grpc::ServerContext*, const v1::ListContainersRequest* request,
                                                v1::ListContainersResponse* response) {
  return AnswerRpc("ListContainers", [&] {
    for (v1::Container& item : containers_.List(request->filter())) *response->add_containers() = std::move(item);
    return absl::OkStatus();
  });
}

grpc::Status RuntimeServiceImpl::ContainerStatus(grpc::ServerContext*, const v1::ContainerStatusRequest* request,
                                                 v1::ContainerStatusResponse* response) {
  return AnswerRpc("ContainerStatus", [&] {
    absl::StatusOr<v1::ContainerStatusResponse> status = containers_.Status(request->container_id(), request->verbose());
    if (!status.ok()) return status.status();
    *response = *std::move(status);
    return absl::OkStatus();
  });
}

grpc::Status RuntimeServiceImpl::ExecSync(grpc::ServerContext*, const v1::ExecSyncRequest* request,
                                          v1::ExecSyncResponse* response) {
  return AnswerRpc("ExecSync", [&] {
    absl::StatusOr<v1::ExecSyncResponse> result = containers_.ExecSync(
        request->container_id(), std::vector<std::string>(request->cmd().begin(), request->cmd().end()), request->timeout());
    if (!result.ok()) return result.status();
    *response = *std::move(result);
    return absl::OkStatus();
  });
}

grpc::Status RuntimeServiceImpl::ReopenContainerLog(grpc::ServerContext*, const v1::ReopenContainerLogRequest* request,
                                                    v1::ReopenContainerLogResponse*) {
  return AnswerRpc("ReopenContainerLog", [&] { return containers_.ReopenLog(request->container_id()); });
}

grpc::Status RuntimeServiceImpl::Exec(grpc::ServerContext*, const v1::ExecRequest* request,
                                      v1::ExecResponse* response) {
  return AnswerRpc("Exec", [&]() -> absl::Status {
    if (absl::Status valid = CheckStreams(*request); !valid.ok()) return valid;
    const std::string console = request->tty() ? streaming_.ConsoleSocket() : "";
    absl::StatusOr<std::vector<std::string>> argv = containers_.ExecArgv(
        request->container_id(), std::vector<std::string>(request->cmd().begin(), request->cmd().end()), console);
    if (!argv.ok()) return argv.status();
    response->set_url(AsAnswered(
        streaming_.ExecUrl({*std::move(argv), request->stdin(), request->stdout(), request->stderr(), request->tty(), console}),
        quirks_));
    return absl::OkStatus();
  });
}

grpc::Status RuntimeServiceImpl::Attach(grpc::ServerContext*, const v1::AttachRequest* request,
                                        v1::AttachResponse* response) {
  return AnswerRpc("Attach", [&]() -> absl::Status {
    if (absl::Status valid = CheckStreams(*request); !valid.ok()) return valid;
    absl::StatusOr<ContainerManager::AttachPoint> point = containers_.Attach(request->container_id(), request->stdin());
    if (!point.ok()) return point.status();
    response->set_url(AsAnswered(
        streaming_.AttachUrl({point->dir, request->stdin(), request->stdout(), request->stderr(), point->tty}), quirks_));
    return absl::OkStatus();
  });
}

grpc::Status RuntimeServiceImpl::PortForward(grpc::ServerContext*, const v1::PortForwardRequest* request,
                                             v1::PortForwardResponse* response) {
  return AnswerRpc("PortForward", [&]() -> absl::Status {
    // The ports name where a WebSocket client's channels lead; a SPDY
    // client names its own in each stream (crictl and kubectl send none).
    std::vector<int> ports;
    for (int port : request->port()) {
      if (port < 1 || port > 65535) return absl::InvalidArgumentError(crisp::StrCat("port ", port, " is not a TCP port"));
      ports.push_back(port);
    }
    absl::StatusOr<SandboxInfo> sandbox = sandboxes_.Info(request->pod_sandbox_id());
    if (!sandbox.ok()) return sandbox.status();
    if (!sandbox->ready) {
      return absl::FailedPreconditionError(crisp::StrCat("pod sandbox ", sandbox->id, " is not ready"));
    }
    // The pod's netns, opened now: the URL leads into this pod whatever
    // becomes of the path (or of the infra PID) later. A pod on the node's
    // network forwards in crispd's own.
    auto network = sandbox->namespaces.find("network");
    absl::StatusOr<std::shared_ptr<const NetworkNamespace>> netns =
        NetworkNamespace::Open(network != sandbox->namespaces.end() ? network->second : "/proc/self/ns/net");
    if (!netns.ok()) return netns.status();
    response->set_url(AsAnswered(streaming_.PortForwardUrl({*std::move(netns), std::move(ports)}), quirks_));
    return absl::OkStatus();
  });
}

grpc::Status ImageServiceImpl::ListImages(grpc::ServerContext*, const v1::ListImagesRequest* request,
                                          v1::ListImagesResponse* response) {
  return AnswerRpc("ListImages", [&] {
    std::string filter = request->filter().image().image();
    if (!filter.empty()) {
      if (auto image = store_.Find(filter)) FillImage(*image, response->add_images());
      return absl::OkStatus();
    }
    for (const ImageRecord& image : store_.List()) FillImage(image, response->add_images());
    return absl::OkStatus();
  });
}

grpc::Status ImageServiceImpl::ImageStatus(grpc::ServerContext*, const v1::ImageStatusRequest* request,
                                           v1::ImageStatusResponse* response) {
  return AnswerRpc("ImageStatus", [&] {
    // "If the image is not present, returns a response with Image set to nil."
    auto image = store_.Find(request->image().image());
    if (!image) return absl::OkStatus();
    // The same Image whatever reference found it (ID, tag or digest): the
    // request's spec is not echoed back.
    FillImage(*image, response->mutable_image());
    if (request->verbose()) (*response->mutable_info())["config"] = image->config.dump();
    return absl::OkStatus();
  });
}

grpc::Status ImageServiceImpl::PullImage(grpc::ServerContext* context, const v1::PullImageRequest* request,
                                         v1::PullImageResponse* response) {
  return AnswerRpc("PullImage", [&] {
    const v1::AuthConfig& auth = request->auth();
    Credentials credentials{auth.username(), auth.password(), auth.auth(), auth.identity_token(),
                            auth.registry_token()};
    absl::StatusOr<ImageRecord> image =
        store_.Pull(request->image().image(), credentials, [context] { return context->IsCancelled(); });
    if (!image.ok()) return image.status();
    // "image_ref: Reference to the image in use": the image ID, which the
    // 1.36 identifier rule asks to equal Image.id.
    response->set_image_ref(image->id);
    return absl::OkStatus();
  });
}

grpc::Status ImageServiceImpl::RemoveImage(grpc::ServerContext*, const v1::RemoveImageRequest* request,
                                           v1::RemoveImageResponse*) {
  // "This call is idempotent, and must not return an error if the image has
  // already been removed."
  return AnswerRpc("RemoveImage", [&] { return store_.Remove(request->image().image()); });
}

grpc::Status ImageServiceImpl::ImageFsInfo(grpc::ServerContext*, const v1::ImageFsInfoRequest*,
                                           v1::ImageFsInfoResponse* response) {
  return AnswerRpc("ImageFsInfo", [&] {
    ImageStore::Usage usage = store_.FilesystemUsage();
    auto* fs = response->add_image_filesystems();
    fs->set_timestamp(absl::ToUnixNanos(absl::Now()));
    fs->mutable_fs_id()->set_mountpoint(usage.mountpoint);
    fs->mutable_used_bytes()->set_value(usage.bytes);
    fs->mutable_inodes_used()->set_value(usage.inodes);
    return absl::OkStatus();
  });
}

}  // namespace crisp::crispd
