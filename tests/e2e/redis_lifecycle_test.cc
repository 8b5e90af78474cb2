// The seed flow against the real containerd of `ci/env up`, through crisp's
// client: pull redis:alpine through the registry mirror, run the fixture
// sandbox and redis container, check that redis answers, then take it all down.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "environment.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "harness/client/connect.h"
#include "harness/client/cri_client.h"
#include "runtime/v1/api.pb.h"

namespace crisp::e2e {
namespace {

namespace v1 = runtime::v1;
using ::testing::HasSubstr;

// A TCP port on 127.0.0.1 nothing listens on right now.
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

// Sends one inline redis command over TCP and returns the first reply line.
std::string RedisCommand(int port, const std::string& command) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval timeout{.tv_sec = 5, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string reply;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
    std::string line = command + "\r\n";
    if (send(fd, line.data(), line.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(line.size())) {
      char buffer[256];
      ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
      if (n > 0) reply.assign(buffer, static_cast<size_t>(n));
    }
  }
  close(fd);
  return reply.substr(0, reply.find("\r\n"));
}

class RedisLifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto environment = LoadEnvironment();
    ASSERT_TRUE(environment.ok()) << environment.status();
    auto endpoint = client::ParseEndpoint((*environment)["CRISP_CONTAINERD_ENDPOINT"]);
    ASSERT_TRUE(endpoint.ok()) << endpoint.status();
    endpoint_ = *endpoint;
    client_ = client::NewGrpcCriClient(endpoint_, {.default_timeout = absl::Seconds(60)});
    auto version = client::Handshake(*client_, endpoint_, absl::Seconds(10));
    ASSERT_TRUE(version.ok()) << version.status();
  }

  // Whatever happens in the test, the sandbox goes.
  void TearDown() override {
    if (sandbox_id_.empty() || !client_) return;
    v1::StopPodSandboxRequest stop;
    stop.set_pod_sandbox_id(sandbox_id_);
    auto stopped = Call<v1::StopPodSandboxResponse>("StopPodSandbox", stop);
    EXPECT_TRUE(stopped.ok()) << "cleanup: " << stopped.status();
    v1::RemovePodSandboxRequest remove;
    remove.set_pod_sandbox_id(sandbox_id_);
    auto removed = Call<v1::RemovePodSandboxResponse>("RemovePodSandbox", remove);
    EXPECT_TRUE(removed.ok()) << "cleanup: " << removed.status();
    std::filesystem::remove_all(log_directory_);
  }

  template <typename Response>
  absl::StatusOr<Response> Call(std::string_view method, const google::protobuf::Message& request,
                                absl::Duration timeout = absl::ZeroDuration()) {
    return client::CallAs<Response>(*client_, method, request, {.timeout = timeout});
  }

  client::Endpoint endpoint_;
  std::unique_ptr<client::CriClient> client_;
  std::string sandbox_id_;
  std::string log_directory_;
};

TEST_F(RedisLifecycleTest, PullRunExecStopRemove) {
  const std::string suffix = RunSuffix();

  // PullImage through the mirror: the short name resolves to docker.io.
  v1::PullImageRequest pull;
  pull.mutable_image()->set_image("redis:alpine");
  auto pulled = Call<v1::PullImageResponse>("PullImage", pull, absl::Minutes(3));
  ASSERT_TRUE(pulled.ok()) << pulled.status();
  EXPECT_THAT(pulled->image_ref(), ::testing::StartsWith("sha256:"));

  v1::ImageStatusRequest image_status;
  image_status.mutable_image()->set_image("docker.io/library/redis:alpine");
  auto image = Call<v1::ImageStatusResponse>("ImageStatus", image_status);
  ASSERT_TRUE(image.ok()) << image.status();
  ASSERT_TRUE(image->has_image());
  EXPECT_EQ(image->image().id(), pulled->image_ref());
  EXPECT_GT(image->image().size(), 1000000u);

  // RunPodSandbox with the fixture, made unique for this run.
  v1::PodSandboxConfig sandbox_config;
  ASSERT_TRUE(LoadFixture("sandbox_config.json", &sandbox_config).ok());
  sandbox_config.mutable_metadata()->set_name(sandbox_config.metadata().name() + "-" + suffix);
  sandbox_config.mutable_metadata()->set_uid(sandbox_config.metadata().uid() + "-" + suffix);
  log_directory_ = sandbox_config.log_directory() + "-" + suffix;
  sandbox_config.set_log_directory(log_directory_);
  const int host_port = FreePort();
  sandbox_config.mutable_port_mappings(0)->set_host_port(host_port);
  (*sandbox_config.mutable_labels())["crisp.run-id"] = suffix;

  v1::RunPodSandboxRequest run;
  *run.mutable_config() = sandbox_config;
  auto ran = Call<v1::RunPodSandboxResponse>("RunPodSandbox", run, absl::Minutes(2));
  ASSERT_TRUE(ran.ok()) << ran.status();
  sandbox_id_ = ran->pod_sandbox_id();

  v1::PodSandboxStatusRequest sandbox_status;
  sandbox_status.set_pod_sandbox_id(sandbox_id_);
  auto status = Call<v1::PodSandboxStatusResponse>("PodSandboxStatus", sandbox_status);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->status().state(), v1::SANDBOX_READY);
  EXPECT_EQ(status->status().metadata().name(), sandbox_config.metadata().name());
  EXPECT_EQ(status->status().labels().at("app"), "crisp-seed");
  EXPECT_THAT(status->status().network().ip(), ::testing::StartsWith("10."));

  // CreateContainer and StartContainer with the redis fixture.
  v1::CreateContainerRequest create;
  create.set_pod_sandbox_id(sandbox_id_);
  ASSERT_TRUE(LoadFixture("container_redis.json", create.mutable_config()).ok());
  *create.mutable_sandbox_config() = sandbox_config;
  auto created = Call<v1::CreateContainerResponse>("CreateContainer", create, absl::Minutes(1));
  ASSERT_TRUE(created.ok()) << created.status();
  const std::string container_id = created->container_id();

  v1::StartContainerRequest start;
  start.set_container_id(container_id);
  auto started = Call<v1::StartContainerResponse>("StartContainer", start, absl::Minutes(1));
  ASSERT_TRUE(started.ok()) << started.status();

  // ExecSync redis-cli ping: PONG, once redis is up.
  v1::ExecSyncRequest exec;
  exec.set_container_id(container_id);
  exec.add_cmd("redis-cli");
  exec.add_cmd("ping");
  exec.set_timeout(10);
  absl::StatusOr<v1::ExecSyncResponse> pong;
  for (int attempt = 0; attempt < 50; ++attempt) {
    pong = Call<v1::ExecSyncResponse>("ExecSync", exec, absl::Seconds(20));
    if (pong.ok() && pong->stdout() == "PONG\n") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_TRUE(pong.ok()) << pong.status();
  EXPECT_EQ(pong->exit_code(), 0);
  EXPECT_EQ(pong->stdout(), "PONG\n");

  // The port mapping reaches redis from the host.
  EXPECT_EQ(RedisCommand(host_port, "PING"), "+PONG") << "127.0.0.1:" << host_port;

  // The container log holds redis's ready line, in the CRI log format.
  std::ifstream log(log_directory_ + "/redis/0.log");
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, HasSubstr(" stdout F "));
  EXPECT_THAT(text, HasSubstr("Ready to accept connections"));

  // StopContainer, RemoveContainer, StopPodSandbox, RemovePodSandbox.
  v1::StopContainerRequest stop_container;
  stop_container.set_container_id(container_id);
  stop_container.set_timeout(10);
  ASSERT_TRUE(Call<v1::StopContainerResponse>("StopContainer", stop_container, absl::Seconds(30)).ok());
  v1::ContainerStatusRequest container_status;
  container_status.set_container_id(container_id);
  auto exited = Call<v1::ContainerStatusResponse>("ContainerStatus", container_status);
  ASSERT_TRUE(exited.ok()) << exited.status();
  EXPECT_EQ(exited->status().state(), v1::CONTAINER_EXITED);

  v1::RemoveContainerRequest remove_container;
  remove_container.set_container_id(container_id);
  ASSERT_TRUE(Call<v1::RemoveContainerResponse>("RemoveContainer", remove_container).ok());
  auto gone = Call<v1::ContainerStatusResponse>("ContainerStatus", container_status);
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kNotFound) << gone.status();

  v1::StopPodSandboxRequest stop_sandbox;
  stop_sandbox.set_pod_sandbox_id(sandbox_id_);
  ASSERT_TRUE(Call<v1::StopPodSandboxResponse>("StopPodSandbox", stop_sandbox).ok());
  v1::RemovePodSandboxRequest remove_sandbox;
  remove_sandbox.set_pod_sandbox_id(sandbox_id_);
  ASSERT_TRUE(Call<v1::RemovePodSandboxResponse>("RemovePodSandbox", remove_sandbox).ok());
  sandbox_id_.clear();  // nothing left for TearDown

  v1::ListPodSandboxRequest list;
  (*list.mutable_filter()->mutable_label_selector())["crisp.run-id"] = suffix;
  auto listed = Call<v1::ListPodSandboxResponse>("ListPodSandbox", list);
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->items_size(), 0);
}

}  // namespace
}  // namespace crisp::e2e
