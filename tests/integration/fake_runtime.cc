#include "fake_runtime.h"

#include <map>

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>

#include "absl/synchronization/mutex.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

namespace crisp::testing {

namespace v1 = runtime::v1;

FakeRuntimeConfig HealthyRuntime() {
  FakeRuntimeConfig config;
  config.version.set_version("0.1.0");
  config.version.set_runtime_name("fakecri");
  config.version.set_runtime_version("1.2.3");
  config.version.set_runtime_api_version("v1");

  auto* runtime_ready = config.status.mutable_status()->add_conditions();
  runtime_ready->set_type("RuntimeReady");
  runtime_ready->set_status(true);
  auto* network_ready = config.status.mutable_status()->add_conditions();
  network_ready->set_type("NetworkReady");
  network_ready->set_status(false);
  network_ready->set_reason("NetworkPluginNotReady");
  network_ready->set_message("cni config uninitialized");
  auto* handler = config.status.add_runtime_handlers();
  handler->set_name("runc");
  handler->mutable_features()->set_recursive_read_only_mounts(true);

  auto* fs = config.image_fs.add_image_filesystems();
  fs->mutable_fs_id()->set_mountpoint("/var/lib/fakecri/images");
  fs->mutable_used_bytes()->set_value(3ULL << 30);
  fs->mutable_inodes_used()->set_value(4242);
  fs->set_timestamp(1700000000000000000);

  config.runtime_config = std::make_unique<v1::RuntimeConfigResponse>();
  config.runtime_config->mutable_linux()->set_cgroup_driver(v1::CGROUPFS);
  return config;
}

class FakeRuntime::RuntimeImpl final : public v1::RuntimeService::Service {
 public:
  explicit RuntimeImpl(FakeRuntimeConfig& config) : config_(config) {}

  grpc::Status Version(grpc::ServerContext* context, const v1::VersionRequest*,
                       v1::VersionResponse* response) override {
    if (config_.version_delay > absl::ZeroDuration()) {
      // Wait out the delay, or until the client gives up.
      absl::Time until = absl::Now() + config_.version_delay;
      while (absl::Now() < until && !context->IsCancelled()) {
        absl::SleepFor(absl::Milliseconds(10));
      }
    }
    *response = config_.version;
    return grpc::Status::OK;
  }
  grpc::Status Status(grpc::ServerContext*, const v1::StatusRequest* request,
                      v1::StatusResponse* response) override {
    *response = config_.status;
    if (request->verbose()) (*response->mutable_info())["config"] = "{\"fake\":true}";
    return grpc::Status::OK;
  }
  grpc::Status ListPodSandbox(grpc::ServerContext*, const v1::ListPodSandboxRequest* request,
                              v1::ListPodSandboxResponse* response) override {
    absl::MutexLock lock(&mutex_);
    for (const v1::PodSandbox& sandbox : config_.sandboxes) {
      bool match = true;
      for (const auto& [key, value] : request->filter().label_selector()) {
        auto found = sandbox.labels().find(key);
        match = match && found != sandbox.labels().end() && found->second == value;
      }
      if (match) *response->add_items() = sandbox;
    }
    return grpc::Status::OK;
  }
  grpc::Status RunPodSandbox(grpc::ServerContext*, const v1::RunPodSandboxRequest* request,
                             v1::RunPodSandboxResponse* response) override {
    absl::MutexLock lock(&mutex_);
    v1::PodSandbox sandbox;
    sandbox.set_id("fakepod" + std::to_string(++next_id_));
    *sandbox.mutable_metadata() = request->config().metadata();
    *sandbox.mutable_labels() = request->config().labels();
    sandbox.set_state(v1::SANDBOX_READY);
    config_.sandboxes.push_back(sandbox);
    ++pods_run_;
    response->set_pod_sandbox_id(sandbox.id());
    return grpc::Status::OK;
  }
  grpc::Status PodSandboxStatus(grpc::ServerContext*, const v1::PodSandboxStatusRequest* request,
                                v1::PodSandboxStatusResponse* response) override {
    absl::MutexLock lock(&mutex_);
    const v1::PodSandbox* sandbox = FindSandbox(request->pod_sandbox_id());
    if (sandbox == nullptr) return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such sandbox");
    response->mutable_status()->set_id(sandbox->id());
    response->mutable_status()->set_state(sandbox->state());
    return grpc::Status::OK;
  }
  grpc::Status StopPodSandbox(grpc::ServerContext*, const v1::StopPodSandboxRequest* request,
                              v1::StopPodSandboxResponse*) override {
    absl::MutexLock lock(&mutex_);
    bool known = false;
    for (v1::PodSandbox& sandbox : config_.sandboxes) {
      if (sandbox.id() != request->pod_sandbox_id()) continue;
      sandbox.set_state(v1::SANDBOX_NOTREADY);
      known = true;
    }
    return Missing(known);
  }
  grpc::Status RemovePodSandbox(grpc::ServerContext*, const v1::RemovePodSandboxRequest* request,
                                v1::RemovePodSandboxResponse*) override {
    absl::MutexLock lock(&mutex_);
    auto& sandboxes = config_.sandboxes;
    for (auto it = sandboxes.begin(); it != sandboxes.end(); ++it) {
      if (it->id() != request->pod_sandbox_id()) continue;
      if (it->state() != v1::SANDBOX_NOTREADY) {
        return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "sandbox is still running");
      }
      if (!config_.container_removal_fails) {
        std::erase_if(containers_, [&](const auto& entry) { return entry.second == it->id(); });
      }
      sandboxes.erase(it);
      return grpc::Status::OK;
    }
    return Missing(false);
  }
  grpc::Status CreateContainer(grpc::ServerContext*, const v1::CreateContainerRequest* request,
                               v1::CreateContainerResponse* response) override {
    absl::MutexLock lock(&mutex_);
    if (FindSandbox(request->pod_sandbox_id()) == nullptr) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such sandbox");
    }
    const std::string key = request->pod_sandbox_id() + "/" + request->config().metadata().name();
    if (auto named = container_names_.find(key);
        config_.create_returns_existing && named != container_names_.end() && containers_.count(named->second)) {
      response->set_container_id(named->second);
      return grpc::Status::OK;
    }
    std::string id = "fakectr" + std::to_string(++next_id_);
    containers_[id] = request->pod_sandbox_id();
    container_names_[key] = id;
    response->set_container_id(id);
    return grpc::Status::OK;
  }
  grpc::Status ContainerStatus(grpc::ServerContext*, const v1::ContainerStatusRequest* request,
                               v1::ContainerStatusResponse* response) override {
    absl::MutexLock lock(&mutex_);
    if (!containers_.count(request->container_id())) return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such container");
    response->mutable_status()->set_id(request->container_id());
    response->mutable_status()->set_state(v1::CONTAINER_CREATED);
    return grpc::Status::OK;
  }
  grpc::Status RemoveContainer(grpc::ServerContext*, const v1::RemoveContainerRequest* request,
                               v1::RemoveContainerResponse*) override {
    absl::MutexLock lock(&mutex_);
    if (config_.container_removal_fails) return grpc::Status(grpc::StatusCode::UNKNOWN, "removal failed");
    if (config_.container_removal_fails_once && !removal_failed_once_) {
      removal_failed_once_ = true;
      return grpc::Status(grpc::StatusCode::UNKNOWN, "container is still running, to stop first");
    }
    return Missing(containers_.erase(request->container_id()) > 0);
  }
  grpc::Status ListContainers(grpc::ServerContext*, const v1::ListContainersRequest* request,
                              v1::ListContainersResponse* response) override {
    if (!config_.lists_containers) {
      return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "unknown method ListContainers for service runtime.v1.RuntimeService");
    }
    absl::MutexLock lock(&mutex_);
    for (const auto& [id, sandbox] : containers_) {
      if (!request->filter().pod_sandbox_id().empty() && sandbox != request->filter().pod_sandbox_id()) continue;
      v1::Container* container = response->add_containers();
      container->set_id(id);
      container->set_pod_sandbox_id(sandbox);
      container->set_state(v1::CONTAINER_CREATED);
    }
    return grpc::Status::OK;
  }
  int PodsRun() const {
    absl::MutexLock lock(&mutex_);
    return pods_run_;
  }
  std::vector<v1::PodSandbox> Sandboxes() const {
    absl::MutexLock lock(&mutex_);
    return config_.sandboxes;
  }
  std::vector<std::string> Containers() const {
    absl::MutexLock lock(&mutex_);
    std::vector<std::string> ids;
    for (const auto& [id, sandbox] : containers_) ids.push_back(id);
    return ids;
  }

  grpc::Status RuntimeConfig(grpc::ServerContext*, const v1::RuntimeConfigRequest*,
                             v1::RuntimeConfigResponse* response) override {
    if (!config_.runtime_config) {
      return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                          "unknown method RuntimeConfig for service runtime.v1.RuntimeService");
    }
    *response = *config_.runtime_config;
    return grpc::Status::OK;
  }

 private:
  // The answer for a stop or removal: OK, or for an unknown ID what the
  // config says (OK, idempotent, by default).
  grpc::Status Missing(bool known) const {
    if (known || !config_.unknown_on_missing) return grpc::Status::OK;
    return grpc::Status(grpc::StatusCode::UNKNOWN, "not found");
  }
  const v1::PodSandbox* FindSandbox(const std::string& id) const {
    for (const v1::PodSandbox& sandbox : config_.sandboxes) {
      if (sandbox.id() == id) return &sandbox;
    }
    return nullptr;
  }

  mutable absl::Mutex mutex_;
  FakeRuntimeConfig& config_;
  std::map<std::string, std::string> containers_;  // id -> sandbox id
  std::map<std::string, std::string> container_names_;  // "sandbox id/name" -> id
  int next_id_ = 0;
  int pods_run_ = 0;
  bool removal_failed_once_ = false;
};

class FakeRuntime::ImageImpl final : public v1::ImageService::Service {
 public:
  explicit ImageImpl(const FakeRuntimeConfig& config) : config_(config) {}
  grpc::Status ImageFsInfo(grpc::ServerContext*, const v1::ImageFsInfoRequest*,
                           v1::ImageFsInfoResponse* response) override {
    *response = config_.image_fs;
    return grpc::Status::OK;
  }

 private:
  const FakeRuntimeConfig& config_;
};

FakeRuntime::FakeRuntime(FakeRuntimeConfig config) : config_(std::move(config)) {
  char pattern[] = "/tmp/crisp-fake-XXXXXX";
  if (mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = pattern;
  socket_path_ = dir_ + "/cri.sock";

  runtime_service_ = std::make_unique<RuntimeImpl>(config_);
  image_service_ = std::make_unique<ImageImpl>(config_);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix://" + socket_path_, grpc::InsecureServerCredentials());
  if (!config_.without_runtime_service) builder.RegisterService(runtime_service_.get());
  builder.RegisterService(image_service_.get());
  server_ = builder.BuildAndStart();
  if (!server_) throw std::runtime_error("fake runtime failed to start on " + socket_path_);
}

std::vector<v1::PodSandbox> FakeRuntime::sandboxes() const {
  return runtime_service_->Sandboxes();
}

std::vector<std::string> FakeRuntime::containers() const { return runtime_service_->Containers(); }
int FakeRuntime::pods_run() const { return runtime_service_->PodsRun(); }

FakeRuntime::~FakeRuntime() {
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  server_->Wait();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

}  // namespace crisp::testing
