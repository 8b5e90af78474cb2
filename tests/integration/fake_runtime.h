// FakeRuntime: an in-process CRI v1 gRPC server on a temp unix socket, with
// answers set by the test. For tests of harness logic only; the e2e proof
// runs against real runtimes.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "grpcpp/server.h"
#include "runtime/v1/api.grpc.pb.h"

namespace crisp::testing {

struct FakeRuntimeConfig {
  runtime::v1::VersionResponse version;
  runtime::v1::StatusResponse status;
  runtime::v1::ImageFsInfoResponse image_fs;
  // When unset, RuntimeConfig answers Unimplemented, as runtimes older than
  // cri-api v0.28 do.
  std::unique_ptr<runtime::v1::RuntimeConfigResponse> runtime_config;
  // Serve only ImageService: a gRPC server that is not a CRI runtime service.
  bool without_runtime_service = false;
  // Pod sandboxes ListPodSandbox starts with; Stop marks them NOTREADY,
  // Remove deletes them.
  std::vector<runtime::v1::PodSandbox> sandboxes;
  // Version waits this long before answering.
  absl::Duration version_delay = absl::ZeroDuration();
  // Stop and remove calls for an ID the fake does not know answer Unknown
  // (not OK or NotFound), as some runtimes do for what is already gone.
  bool unknown_on_missing = false;
  // RemoveContainer answers Unknown and keeps the container, and removing
  // a sandbox leaves its containers.
  bool container_removal_fails = false;
  // The first RemoveContainer answers Unknown and keeps the container, as
  // containerd 1.6 may for a container that exits as it is removed.
  bool container_removal_fails_once = false;
  // ListContainers answers (by pod sandbox ID filter) instead of Unimplemented.
  bool lists_containers = false;
  // CreateContainer with a name already used in the pod answers the
  // existing container's ID, as CRI-O 1.26 does.
  bool create_returns_existing = false;
};

// A config that looks like a healthy containerd-ish runtime.
FakeRuntimeConfig HealthyRuntime();

class FakeRuntime {
 public:
  explicit FakeRuntime(FakeRuntimeConfig config);
  ~FakeRuntime();

  const std::string& socket_path() const { return socket_path_; }
  std::string endpoint() const { return "unix://" + socket_path_; }
  // The sandboxes not yet removed.
  std::vector<runtime::v1::PodSandbox> sandboxes() const;
  // The IDs of the containers not yet removed.
  std::vector<std::string> containers() const;
  // How many RunPodSandbox calls it has answered.
  int pods_run() const;

 private:
  class RuntimeImpl;
  class ImageImpl;
  std::string dir_;
  std::string socket_path_;
  FakeRuntimeConfig config_;
  std::unique_ptr<RuntimeImpl> runtime_service_;
  std::unique_ptr<ImageImpl> image_service_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace crisp::testing
