// crispd's gRPC services: runtime info and config, pod sandboxes,
// containers and their resources, the image service, container and pod
// stats, events, and Exec, Attach and PortForward; every other RPC
// (CheckpointContainer, ...) answers UNIMPLEMENTED, gRPC's default. Each
// method is one AnswerRpc call.
#pragma once

#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "nlohmann/json.hpp"
#include "reference_runtime/container/container_manager.h"
#include "reference_runtime/image/image_store.h"
#include "reference_runtime/sandbox/sandbox_manager.h"
#include "reference_runtime/server/quirks.h"
#include "reference_runtime/streaming/streaming_server.h"
#include "runtime/v1/api.grpc.pb.h"

namespace crisp::crispd {

class RuntimeServiceImpl final : public runtime::v1::RuntimeService::Service {
 public:
  // `events`: what the managers publish (null: GetContainerEvents answers
  // UNIMPLEMENTED); `config`: crispd's settings, as Status answers them
  // when asked verbose; `quirks`: how it deviates from the reference
  // (server/quirks.h; none by default).
  RuntimeServiceImpl(SandboxManager& sandboxes, ContainerManager& containers, StreamingServer& streaming,
                     EventBus* events = nullptr, nlohmann::json config = nlohmann::json::object(),
                     Quirks quirks = {})
      : sandboxes_(sandboxes), containers_(containers), streaming_(streaming), events_(events),
        config_(std::move(config)), quirks_(quirks) {}

  grpc::Status Version(grpc::ServerContext* context, const runtime::v1::VersionRequest* request,
                       runtime::v1::VersionResponse* response) override;
  grpc::Status Status(grpc::ServerContext* context, const runtime::v1::StatusRequest* request,
                      runtime::v1::StatusResponse* response) override;
  grpc::Status RuntimeConfig(grpc::ServerContext* context, const runtime::v1::RuntimeConfigRequest* request,
                             runtime::v1::RuntimeConfigResponse* response) override;
  grpc::Status UpdateRuntimeConfig(grpc::ServerContext* context, const runtime::v1::UpdateRuntimeConfigRequest* request,
                                   runtime::v1::UpdateRuntimeConfigResponse* response) override;

  grpc::Status RunPodSandbox(grpc::ServerContext* context, const runtime::v1::RunPodSandboxRequest* request,
                             runtime::v1::RunPodSandboxResponse* response) override;
  grpc::Status StopPodSandbox(grpc::ServerContext* context, const runtime::v1::StopPodSandboxRequest* request,
                              runtime::v1::StopPodSandboxResponse* response) override;
  grpc::Status RemovePodSandbox(grpc::ServerContext* context, const runtime::v1::RemovePodSandboxRequest* request,
                                runtime::v1::RemovePodSandboxResponse* response) override;
  grpc::Status PodSandboxStatus(grpc::ServerContext* context, const runtime::v1::PodSandboxStatusRequest* request,
                                runtime::v1::PodSandboxStatusResponse* response) override;
  grpc::Status ListPodSandbox(grpc::ServerContext* context, const runtime::v1::ListPodSandboxRequest* request,
                              runtime::v1::ListPodSandboxResponse* response) override;

  grpc::Status CreateContainer(grpc::ServerContext* context, const runtime::v1::CreateContainerRequest* request,
                               runtime::v1::CreateContainerResponse* response) override;
  grpc::Status StartContainer(grpc::ServerContext* context, const runtime::v1::StartContainerRequest* request,
                              runtime::v1::StartContainerResponse* response) override;
  grpc::Status StopContainer(grpc::ServerContext* context, const runtime::v1::StopContainerRequest* request,
                             runtime::v1::StopContainerResponse* response) override;
  grpc::Status RemoveContainer(grpc::ServerContext* context, const runtime::v1::RemoveContainerRequest* request,
                               runtime::v1::RemoveContainerResponse* response) override;
  grpc::Status UpdateContainerResources(grpc::ServerContext* context,
                                        const runtime::v1::UpdateContainerResourcesRequest* request,
                                        runtime::v1::UpdateContainerResourcesResponse* response) override;
  // Streams lifecycle events of containers and sandboxes until the client
  // hangs up: each with the pod's status and its containers' statuses, as
  // the kubelet's evented PLEG reads them.
  grpc::Status GetContainerEvents(grpc::ServerContext* context, const runtime::v1::GetEventsRequest* request,
                                  grpc::ServerWriter<runtime::v1::ContainerEventResponse>* writer) override;
  // Checkpointing needs CRIU: UNIMPLEMENTED, with what `criu check` says,
  // when it cannot run here; the runc checkpoint path itself is not built
  // yet (no host to test it on: Debian 12's CRIU 3.17 fails on newer kernels).
  grpc::Status CheckpointContainer(grpc::ServerContext* context, const runtime::v1::CheckpointContainerRequest* request,
                                   runtime::v1::CheckpointContainerResponse* response) override;
  grpc::Status ContainerStats(grpc::ServerContext* context, const runtime::v1::ContainerStatsRequest* request,
                              runtime::v1::ContainerStatsResponse* response) override;
  grpc::Status ListContainerStats(grpc::ServerContext* context, const runtime::v1::ListContainerStatsRequest* request,
                                  runtime::v1::ListContainerStatsResponse* response) override;
  grpc::Status PodSandboxStats(grpc::ServerContext* context, const runtime::v1::PodSandboxStatsRequest* request,
                               runtime::v1::PodSandboxStatsResponse* response) override;
  grpc::Status ListPodSandboxStats(grpc::ServerContext* context, const runtime::v1::ListPodSandboxStatsRequest* request,
                                   runtime::v1::ListPodSandboxStatsResponse* response) override;
  grpc::Status ListMetricDescriptors(grpc::ServerContext* context,
                                     const runtime::v1::ListMetricDescriptorsRequest* request,
                                     runtime::v1::ListMetricDescriptorsResponse* response) override;
  grpc::Status ListPodSandboxMetrics(grpc::ServerContext* context,
                                     const runtime::v1::ListPodSandboxMetricsRequest* request,
                                     runtime::v1::ListPodSandboxMetricsResponse* response) override;
  grpc::Status ListContainers(grpc::ServerContext* context, const runtime::v1::ListContainersRequest* request,
                              runtime::v1::ListContainersResponse* response) override;
  grpc::Status ContainerStatus(grpc::ServerContext* context, const runtime::v1::ContainerStatusRequest* request,
                               runtime::v1::ContainerStatusResponse* response) override;
  grpc::Status ExecSync(grpc::ServerContext* context, const runtime::v1::ExecSyncRequest* request,
                        runtime::v1::ExecSyncResponse* response) override;
  grpc::Status ReopenContainerLog(grpc::ServerContext* context, const runtime::v1::ReopenContainerLogRequest* request,
                                  runtime::v1::ReopenContainerLogResponse* response) override;
  grpc::Status Exec(grpc::ServerContext* context, const runtime::v1::ExecRequest* request,
                    runtime::v1::ExecResponse* response) override;
  grpc::Status Attach(grpc::ServerContext* context, const runtime::v1::AttachRequest* request,
                      runtime::v1::AttachResponse* response) override;
  grpc::Status PortForward(grpc::ServerContext* context, const runtime::v1::PortForwardRequest* request,
                           runtime::v1::PortForwardResponse* response) override;

 private:
  SandboxManager& sandboxes_;
  ContainerManager& containers_;
  StreamingServer& streaming_;
  EventBus* events_;
  const nlohmann::json config_;
  const Quirks quirks_;
  absl::Mutex mu_;
  std::string pod_cidr_ ABSL_GUARDED_BY(mu_);  // the last UpdateRuntimeConfig's
};

class ImageServiceImpl final : public runtime::v1::ImageService::Service {
 public:
  explicit ImageServiceImpl(ImageStore& store) : store_(store) {}

  grpc::Status ListImages(grpc::ServerContext* context, const runtime::v1::ListImagesRequest* request,
                          runtime::v1::ListImagesResponse* response) override;
  grpc::Status ImageStatus(grpc::ServerContext* context, const runtime::v1::ImageStatusRequest* request,
                           runtime::v1::ImageStatusResponse* response) override;
  grpc::Status PullImage(grpc::ServerContext* context, const runtime::v1::PullImageRequest* request,
                         runtime::v1::PullImageResponse* response) override;
  grpc::Status RemoveImage(grpc::ServerContext* context, const runtime::v1::RemoveImageRequest* request,
                           runtime::v1::RemoveImageResponse* response) override;
  grpc::Status ImageFsInfo(grpc::ServerContext* context, const runtime::v1::ImageFsInfoRequest* request,
                           runtime::v1::ImageFsInfoResponse* response) override;

 private:
  ImageStore& store_;
};

}  // namespace crisp::crispd
