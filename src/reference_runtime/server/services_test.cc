// RuntimeService on fakes of every seam, called as gRPC would (without a
// socket): each RPC's answer and status code, the validation the services
// do themselves, and AnswerRpc's mapping of errors and escaped exceptions.
#include "reference_runtime/server/services.h"

#include <fstream>

#include "common/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "reference_runtime/host/fake_host.h"
#include "reference_runtime/image/test_layout.h"
#include "reference_runtime/server/call.h"

namespace crisp::crispd {
namespace {

namespace v1 = runtime::v1;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class RuntimeServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<TempDir> temp = TempDir::Make("crispd-services-test");
    ASSERT_TRUE(temp.ok()) << temp.status();
    temp_ = std::move(*temp);
    std::ofstream(temp_.path() + "/pause") << "not a real pause";
    images_.Add("busybox:latest", {{"Cmd", {"sh"}}});
    auto sandboxes = SandboxManager::Open({temp_.path() + "/state", temp_.path() + "/pause"}, fake_.host());
    ASSERT_TRUE(sandboxes.ok()) << sandboxes.status();
    sandboxes_ = std::move(*sandboxes);
    auto containers =
        ContainerManager::Open({temp_.path() + "/state", temp_.path() + "/cgroup"}, images_, *sandboxes_, fake_.host());
    ASSERT_TRUE(containers.ok()) << containers.status();
    containers_ = std::move(*containers);
    auto streaming = StreamingServer::Start("127.0.0.1");
    ASSERT_TRUE(streaming.ok()) << streaming.status();
    streaming_ = std::move(*streaming);
    service_ = std::make_unique<RuntimeServiceImpl>(*sandboxes_, *containers_, *streaming_);
  }

  std::string RunPod() {
    v1::RunPodSandboxRequest request;
    auto* metadata = request.mutable_config()->mutable_metadata();
    metadata->set_name("pod");
    metadata->set_namespace_("default");
    metadata->set_uid("uid");
    request.mutable_config()->set_log_directory(temp_.path() + "/logs");
    v1::RunPodSandboxResponse response;
    grpc::Status status = service_->RunPodSandbox(nullptr, &request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.pod_sandbox_id();
  }
  std::string RunContainer(const std::string& pod) {
    v1::CreateContainerRequest create;
    create.set_pod_sandbox_id(pod);
    create.mutable_config()->mutable_metadata()->set_name("app");
    create.mutable_config()->mutable_image()->set_image("busybox:latest");
    create.mutable_config()->set_log_path("app/0.log");
    v1::CreateContainerResponse created;
    grpc::Status status = service_->CreateContainer(nullptr, &create, &created);
    EXPECT_TRUE(status.ok()) << status.error_message();
    v1::StartContainerRequest start;
    start.set_container_id(created.container_id());
    v1::StartContainerResponse started;
    EXPECT_TRUE(service_->StartContainer(nullptr, &start, &started).ok());
    return created.container_id();
  }

  TempDir temp_;
  FakeHost fake_;
  FakeImages images_;
  std::unique_ptr<SandboxManager> sandboxes_;
  std::unique_ptr<ContainerManager> containers_;
  std::unique_ptr<StreamingServer> streaming_;
  std::unique_ptr<RuntimeServiceImpl> service_;
};

TEST_F(RuntimeServiceTest, VersionStatusAndRuntimeConfig) {
  v1::VersionResponse version;
  ASSERT_TRUE(service_->Version(nullptr, nullptr, &version).ok());
  EXPECT_EQ(version.runtime_name(), "crispd");
  EXPECT_EQ(version.runtime_api_version(), "v1");
  v1::StatusRequest status_request;
  v1::StatusResponse status;
  ASSERT_TRUE(service_->Status(nullptr, &status_request, &status).ok());
  ASSERT_EQ(status.status().conditions_size(), 2);
  EXPECT_TRUE(status.status().conditions(0).status());
  EXPECT_TRUE(status.status().conditions(1).status());
  EXPECT_EQ(status.runtime_handlers_size(), 3);  // crun, runc and the default ""
  v1::RuntimeConfigResponse config;
  ASSERT_TRUE(service_->RuntimeConfig(nullptr, nullptr, &config).ok());
  EXPECT_EQ(config.linux().cgroup_driver(), v1::CGROUPFS);
}

TEST_F(RuntimeServiceTest, UpdateRuntimeConfigTakesACidrOrNothingAndStatusVerboseShowsIt) {
  v1::UpdateRuntimeConfigRequest update;
  v1::UpdateRuntimeConfigResponse updated;
  EXPECT_TRUE(service_->UpdateRuntimeConfig(nullptr, &update, &updated).ok());  // empty: nothing to do
  for (const char* bad : {"10.0.0.0", "10.0.0.0/33", "nonsense/8", "10.0.0.0/", "fd00::/129"}) {
    update.mutable_runtime_config()->mutable_network_config()->set_pod_cidr(bad);
    grpc::Status status = service_->UpdateRuntimeConfig(nullptr, &update, &updated);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
  }
  update.mutable_runtime_config()->mutable_network_config()->set_pod_cidr("10.244.1.0/24,fd00:1::/64");
  EXPECT_TRUE(service_->UpdateRuntimeConfig(nullptr, &update, &updated).ok());

  v1::StatusRequest request;
  v1::StatusResponse response;
  ASSERT_TRUE(service_->Status(nullptr, &request, &response).ok());
  EXPECT_TRUE(response.info().empty());  // only when asked verbose
  request.set_verbose(true);
  ASSERT_TRUE(service_->Status(nullptr, &request, &response).ok());
  nlohmann::json config = nlohmann::json::parse(response.info().at("config"));
  EXPECT_EQ(config["podCIDRFromKubelet"], "10.244.1.0/24,fd00:1::/64");
}

TEST_F(RuntimeServiceTest, UpdateContainerResourcesOfARunningContainer) {
  std::string id = RunContainer(RunPod());
  v1::UpdateContainerResourcesRequest request;
  request.set_container_id(id);
  request.mutable_linux()->set_memory_limit_in_bytes(104857600);
  v1::UpdateContainerResourcesResponse response;
  ASSERT_TRUE(service_->UpdateContainerResources(nullptr, &request, &response).ok());
  v1::ContainerStatusRequest status_request;
  status_request.set_container_id(id);
  v1::ContainerStatusResponse status;
  ASSERT_TRUE(service_->ContainerStatus(nullptr, &status_request, &status).ok());
  EXPECT_EQ(status.status().resources().linux().memory_limit_in_bytes(), 104857600);
  request.set_container_id("no-such-container");
  EXPECT_EQ(service_->UpdateContainerResources(nullptr, &request, &response).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(RuntimeServiceTest, APodAndAContainerThroughTheirWholeLives) {
  std::string pod = RunPod();
  v1::PodSandboxStatusRequest pod_status_request;
  pod_status_request.set_pod_sandbox_id(pod);
  v1::PodSandboxStatusResponse pod_status;
  ASSERT_TRUE(service_->PodSandboxStatus(nullptr, &pod_status_request, &pod_status).ok());
  EXPECT_EQ(pod_status.status().state(), v1::SANDBOX_READY);
  v1::ListPodSandboxRequest list_pods;
  v1::ListPodSandboxResponse pods;
  ASSERT_TRUE(service_->ListPodSandbox(nullptr, &list_pods, &pods).ok());
  EXPECT_EQ(pods.items_size(), 1);

  std::string ctr = RunContainer(pod);
  v1::ContainerStatusRequest status_request;
  status_request.set_container_id(ctr);
  v1::ContainerStatusResponse status;
  ASSERT_TRUE(service_->ContainerStatus(nullptr, &status_request, &status).ok());
  EXPECT_EQ(status.status().state(), v1::CONTAINER_RUNNING);
  v1::ListContainersResponse listed;
  v1::ListContainersRequest list_request;
  ASSERT_TRUE(service_->ListContainers(nullptr, &list_request, &listed).ok());
  EXPECT_EQ(listed.containers_size(), 1);

  v1::ContainerStatsRequest stats_request;
  stats_request.set_container_id(ctr);
  v1::ContainerStatsResponse stats;
  ASSERT_TRUE(service_->ContainerStats(nullptr, &stats_request, &stats).ok());
  EXPECT_EQ(stats.stats().attributes().id(), ctr);
  v1::ListContainerStatsRequest list_stats;
  v1::ListContainerStatsResponse all_stats;
  ASSERT_TRUE(service_->ListContainerStats(nullptr, &list_stats, &all_stats).ok());
  EXPECT_EQ(all_stats.stats_size(), 1);
  v1::PodSandboxStatsRequest pod_stats_request;
  pod_stats_request.set_pod_sandbox_id(pod);
  v1::PodSandboxStatsResponse pod_stats;
  ASSERT_TRUE(service_->PodSandboxStats(nullptr, &pod_stats_request, &pod_stats).ok());
  EXPECT_EQ(pod_stats.stats().linux().containers_size(), 1);
  v1::ListPodSandboxStatsRequest list_pod_stats;
  v1::ListPodSandboxStatsResponse all_pod_stats;
  ASSERT_TRUE(service_->ListPodSandboxStats(nullptr, &list_pod_stats, &all_pod_stats).ok());
  EXPECT_EQ(all_pod_stats.stats_size(), 1);

  RunResult result;
  result.status = ExitStatus{0, 0};
  result.stdout_text = "hi\n";
  fake_.oci.SetExecResult(result);
  v1::ExecSyncRequest exec_sync;
  exec_sync.set_container_id(ctr);
  exec_sync.add_cmd("echo");
  v1::ExecSyncResponse exec_result;
  ASSERT_TRUE(service_->ExecSync(nullptr, &exec_sync, &exec_result).ok());
  EXPECT_EQ(exec_result.stdout(), "hi\n");

  v1::ReopenContainerLogRequest reopen;
  reopen.set_container_id(ctr);
  v1::ReopenContainerLogResponse reopened;
  EXPECT_TRUE(service_->ReopenContainerLog(nullptr, &reopen, &reopened).ok());

  v1::StopContainerRequest stop;
  stop.set_container_id(ctr);
  v1::StopContainerResponse stopped;
  ASSERT_TRUE(service_->StopContainer(nullptr, &stop, &stopped).ok());
  v1::RemoveContainerRequest remove;
  remove.set_container_id(ctr);
  v1::RemoveContainerResponse removed;
  ASSERT_TRUE(service_->RemoveContainer(nullptr, &remove, &removed).ok());
  grpc::Status gone = service_->ContainerStatus(nullptr, &status_request, &status);
  EXPECT_EQ(gone.error_code(), grpc::StatusCode::NOT_FOUND);

  v1::StopPodSandboxRequest stop_pod;
  stop_pod.set_pod_sandbox_id(pod);
  v1::StopPodSandboxResponse pod_stopped;
  ASSERT_TRUE(service_->StopPodSandbox(nullptr, &stop_pod, &pod_stopped).ok());
  v1::RemovePodSandboxRequest remove_pod;
  remove_pod.set_pod_sandbox_id(pod);
  v1::RemovePodSandboxResponse pod_removed;
  ASSERT_TRUE(service_->RemovePodSandbox(nullptr, &remove_pod, &pod_removed).ok());
  EXPECT_EQ(service_->PodSandboxStatus(nullptr, &pod_status_request, &pod_status).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(RuntimeServiceTest, ExecValidatesItsStreamsAndAnswersAUrl) {
  std::string ctr = RunContainer(RunPod());
  v1::ExecRequest request;
  request.set_container_id(ctr);
  request.add_cmd("sh");
  v1::ExecResponse response;
  EXPECT_EQ(service_->Exec(nullptr, &request, &response).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  request.set_stdout(true);
  request.set_stderr(true);
  request.set_tty(true);
  EXPECT_EQ(service_->Exec(nullptr, &request, &response).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  request.set_stderr(false);
  EXPECT_TRUE(service_->Exec(nullptr, &request, &response).ok());  // in a terminal
  request.set_tty(false);
  ASSERT_TRUE(service_->Exec(nullptr, &request, &response).ok());
  EXPECT_THAT(response.url(), StartsWith("http://127.0.0.1:"));
  request.set_container_id("unknown");
  EXPECT_EQ(service_->Exec(nullptr, &request, &response).error_code(), grpc::StatusCode::NOT_FOUND);
}

// The quirks (server/quirks.h) change only what they name.
TEST_F(RuntimeServiceTest, QuirksAnswerLikeAMinimalRuntime) {
  std::string pod = RunPod();
  std::string ctr = RunContainer(pod);
  // Without quirks: a stop or removal of what is not there is OK.
  v1::RemoveContainerRequest remove;
  remove.set_container_id("unknown");
  v1::RemoveContainerResponse removed;
  EXPECT_TRUE(service_->RemoveContainer(nullptr, &remove, &removed).ok());

  Quirks quirks;
  ASSERT_TRUE(AddQuirks("scheme-relative-urls,unknown-on-missing", quirks).ok());
  EXPECT_EQ(QuirkList(quirks), "scheme-relative-urls,unknown-on-missing");
  RuntimeServiceImpl quirky(*sandboxes_, *containers_, *streaming_, nullptr, nlohmann::json::object(), quirks);
  v1::ExecRequest exec;
  exec.set_container_id(ctr);
  exec.add_cmd("true");
  exec.set_stdout(true);
  v1::ExecResponse url;
  ASSERT_TRUE(quirky.Exec(nullptr, &exec, &url).ok());
  EXPECT_THAT(url.url(), StartsWith("//127.0.0.1:"));

  grpc::Status unknown = quirky.RemoveContainer(nullptr, &remove, &removed);
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::UNKNOWN);
  EXPECT_THAT(unknown.error_message(), HasSubstr("\"unknown\" does not exist"));
  v1::StopPodSandboxRequest stop_pod;
  stop_pod.set_pod_sandbox_id("unknown");
  v1::StopPodSandboxResponse stopped_pod;
  EXPECT_EQ(quirky.StopPodSandbox(nullptr, &stop_pod, &stopped_pod).error_code(), grpc::StatusCode::UNKNOWN);
  // What exists is stopped and removed as always.
  v1::StopContainerRequest stop;
  stop.set_container_id(ctr);
  v1::StopContainerResponse stopped;
  EXPECT_TRUE(quirky.StopContainer(nullptr, &stop, &stopped).ok());
  remove.set_container_id(ctr);
  EXPECT_TRUE(quirky.RemoveContainer(nullptr, &remove, &removed).ok());
  EXPECT_EQ(quirky.RemoveContainer(nullptr, &remove, &removed).error_code(), grpc::StatusCode::UNKNOWN);
  stop_pod.set_pod_sandbox_id(pod);
  EXPECT_TRUE(quirky.StopPodSandbox(nullptr, &stop_pod, &stopped_pod).ok());

  Quirks none;
  absl::Status bad = AddQuirks("no-log-directory,sloppy", none);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.message()), HasSubstr("unknown quirk \"sloppy\"; known: no-log-directory,"));
}

TEST_F(RuntimeServiceTest, AttachValidatesItsStreamsAndTheContainersStdin) {
  std::string ctr = RunContainer(RunPod());  // created without stdin
  v1::AttachRequest request;
  request.set_container_id(ctr);
  v1::AttachResponse response;
  EXPECT_EQ(service_->Attach(nullptr, &request, &response).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  request.set_tty(true);
  request.set_stderr(true);
  EXPECT_EQ(service_->Attach(nullptr, &request, &response).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  request.set_tty(false);
  ASSERT_TRUE(service_->Attach(nullptr, &request, &response).ok());
  EXPECT_THAT(response.url(), StartsWith("http://127.0.0.1:"));
  EXPECT_THAT(response.url(), ::testing::HasSubstr("/attach/"));
  request.set_stdin(true);
  grpc::Status no_stdin = service_->Attach(nullptr, &request, &response);
  EXPECT_EQ(no_stdin.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(no_stdin.error_message(), HasSubstr("created without stdin"));
  request.set_container_id("unknown");
  EXPECT_EQ(service_->Attach(nullptr, &request, &response).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(RuntimeServiceTest, PortForwardTakesAnyNumberOfValidPortsOfAReadyPod) {
  fake_.network.SetNetnsPath("/proc/self/ns/net");  // opened by the RPC
  std::string pod = RunPod();
  v1::PortForwardRequest request;
  request.set_pod_sandbox_id(pod);
  v1::PortForwardResponse response;
  // None, as crictl and kubectl send it: each SPDY stream names its port.
  ASSERT_TRUE(service_->PortForward(nullptr, &request, &response).ok());
  EXPECT_THAT(response.url(), StartsWith("http://127.0.0.1:"));
  request.add_port(6379);
  request.add_port(70000);
  EXPECT_EQ(service_->PortForward(nullptr, &request, &response).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  request.set_port(1, 80);
  ASSERT_TRUE(service_->PortForward(nullptr, &request, &response).ok());
  request.set_pod_sandbox_id("unknown");
  EXPECT_EQ(service_->PortForward(nullptr, &request, &response).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(RuntimeServiceTest, PortForwardIntoANamespaceThatCannotBeOpenedFails) {
  fake_.network.SetNetnsPath("/nonexistent/netns");
  std::string pod = RunPod();
  v1::PortForwardRequest request;
  request.set_pod_sandbox_id(pod);
  request.add_port(80);
  v1::PortForwardResponse response;
  grpc::Status status = service_->PortForward(nullptr, &request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("/nonexistent/netns"));
}

TEST_F(RuntimeServiceTest, ErrorsKeepTheirCodes) {
  v1::RunPodSandboxRequest nameless;
  v1::RunPodSandboxResponse response;
  grpc::Status status = service_->RunPodSandbox(nullptr, &nameless, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("metadata"));
  v1::StartContainerRequest start;
  start.set_container_id("unknown");
  v1::StartContainerResponse started;
  EXPECT_EQ(service_->StartContainer(nullptr, &start, &started).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST(ImageServiceTest, ListStatusRemoveAndFsInfoOnTheStore) {
  absl::StatusOr<TempDir> temp = TempDir::Make("crispd-image-service-test");
  ASSERT_TRUE(temp.ok()) << temp.status();
  auto store = ImageStore::Open(temp->path() + "/root", {}, "/nonexistent/helper");
  ASSERT_TRUE(store.ok()) << store.status();
  testing::WriteEmptyImageLayout(temp->path() + "/layout", "docker.io/library/app:1", "1000:1000");
  ASSERT_TRUE((*store)->ImportLayout(temp->path() + "/layout", "").ok());
  ImageServiceImpl service(**store);

  v1::ListImagesRequest list;
  v1::ListImagesResponse listed;
  ASSERT_TRUE(service.ListImages(nullptr, &list, &listed).ok());
  ASSERT_EQ(listed.images_size(), 1);
  EXPECT_EQ(listed.images(0).repo_tags(0), "docker.io/library/app:1");
  EXPECT_EQ(listed.images(0).uid().value(), 1000) << "uid from the image's USER";
  list.mutable_filter()->mutable_image()->set_image("app:2");
  listed.Clear();
  ASSERT_TRUE(service.ListImages(nullptr, &list, &listed).ok());
  EXPECT_EQ(listed.images_size(), 0);

  v1::ImageStatusRequest status_request;
  status_request.mutable_image()->set_image("app:1");
  v1::ImageStatusResponse status;
  ASSERT_TRUE(service.ImageStatus(nullptr, &status_request, &status).ok());
  EXPECT_TRUE(status.has_image());
  status_request.mutable_image()->set_image("app:2");
  status.Clear();
  ASSERT_TRUE(service.ImageStatus(nullptr, &status_request, &status).ok());
  EXPECT_FALSE(status.has_image()) << "an absent image is a nil image, not an error";

  v1::ImageFsInfoRequest fs_request;
  v1::ImageFsInfoResponse fs_info;
  ASSERT_TRUE(service.ImageFsInfo(nullptr, &fs_request, &fs_info).ok());
  ASSERT_EQ(fs_info.image_filesystems_size(), 1);
  EXPECT_GT(fs_info.image_filesystems(0).used_bytes().value(), 0u);

  v1::PullImageRequest pull;
  pull.mutable_image()->set_image("Not A Reference!");
  v1::PullImageResponse pulled;
  EXPECT_EQ(service.PullImage(nullptr, &pull, &pulled).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  v1::RemoveImageRequest remove;
  remove.mutable_image()->set_image("app:1");
  v1::RemoveImageResponse removed;
  ASSERT_TRUE(service.RemoveImage(nullptr, &remove, &removed).ok());
  EXPECT_TRUE(service.RemoveImage(nullptr, &remove, &removed).ok()) << "idempotent";
  list.Clear();
  listed.Clear();
  ASSERT_TRUE(service.ListImages(nullptr, &list, &listed).ok());
  EXPECT_EQ(listed.images_size(), 0);
}

TEST(AnswerRpcTest, AnEscapedExceptionIsInternalAndNamedABug) {
  grpc::Status status = AnswerRpc("Test", []() -> absl::Status { throw std::runtime_error("boom"); });
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_THAT(status.error_message(), HasSubstr("crispd bug: boom"));
  EXPECT_EQ(AnswerRpc("Test", [] { return absl::AlreadyExistsError("x"); }).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
}

}  // namespace
}  // namespace crisp::crispd
