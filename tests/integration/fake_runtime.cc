#include "fake_runtime.h"

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
  grpc::Status StopPodSandbox(grpc::ServerContext*, const v1::StopPodSandboxRequest* request,
                              v1::StopPodSandboxResponse*) override {
    absl::MutexLock lock(&mutex_);
    for (v1::PodSandbox& sandbox : config_.sandboxes) {
      if (sandbox.id() == request->pod_sandbox_id()) sandbox.set_state(v1::SANDBOX_NOTREADY);
    }
    return grpc::Status::OK;
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
      sandboxes.erase(it);
      break;
    }
    return grpc::Status::OK;
  }
  std::vector<v1::PodSandbox> Sandboxes() const {
    absl::MutexLock lock(&mutex_);
    return config_.sandboxes;
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
  mutable absl::Mutex mutex_;
  FakeRuntimeConfig& config_;
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

FakeRuntime::~FakeRuntime() {
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  server_->Wait();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

}  // namespace crisp::testing
