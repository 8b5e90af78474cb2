// `crisp info` end to end over gRPC against an in-process fake runtime.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fake_runtime.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "harness/cli/app.h"
#include "harness/cli/cli_testing.h"
#include "nlohmann/json.hpp"

namespace crisp {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using cli::CliResult;
using cli::RunCrispForTest;
using testing::FakeRuntime;
using testing::HealthyRuntime;

TEST(InfoIntegrationTest, TableShowsVersionConditionsCgroupDriverAndImageFs) {
  FakeRuntime runtime(HealthyRuntime());
  CliResult result = RunCrispForTest({"info", "-e", "fake=" + runtime.endpoint()});
  ASSERT_EQ(result.code, cli::kExitOk) << result.err;
  EXPECT_THAT(result.err, IsEmpty());
  EXPECT_THAT(result.out, ContainsRegex("Endpoint +unix://" + runtime.socket_path() + "  \\(fake\\)"));
  EXPECT_THAT(result.out, ContainsRegex("Runtime +fakecri 1\\.2\\.3\n"));
  EXPECT_THAT(result.out, ContainsRegex("CRI API +v1\n"));
  EXPECT_THAT(result.out, ContainsRegex("RuntimeReady +true\n"));
  EXPECT_THAT(result.out, ContainsRegex(
      "NetworkReady +false  \\(NetworkPluginNotReady: cni config uninitialized\\)\n"));
  EXPECT_THAT(result.out, ContainsRegex("Handler runc +recursive read-only mounts: yes, user namespaces: no"));
  EXPECT_THAT(result.out, ContainsRegex("Cgroup driver +cgroupfs\n"));
  EXPECT_THAT(result.out, ContainsRegex("Image fs +/var/lib/fakecri/images  used 3\\.0 GiB, inodes 4242\n"));
}

TEST(InfoIntegrationTest, JsonCarriesEveryResponseWithApiFieldNames) {
  FakeRuntime runtime(HealthyRuntime());
  CliResult result = RunCrispForTest({"info", "-e", runtime.socket_path(), "-o", "json"});
  ASSERT_EQ(result.code, cli::kExitOk) << result.err;
  nlohmann::json json = nlohmann::json::parse(result.out);
  EXPECT_EQ(json["endpoint"]["name"], "cri");
  EXPECT_EQ(json["endpoint"]["address"], runtime.endpoint());
  EXPECT_EQ(json["version"]["runtime_name"], "fakecri");
  EXPECT_EQ(json["version"]["runtime_api_version"], "v1");
  const auto& conditions = json["status"]["status"]["conditions"];
  ASSERT_EQ(conditions.size(), 2u);
  EXPECT_EQ(conditions[1]["type"], "NetworkReady");
  EXPECT_EQ(conditions[1]["status"], false);
  EXPECT_EQ(conditions[1]["reason"], "NetworkPluginNotReady");
  EXPECT_EQ(json["runtime_config"]["linux"]["cgroup_driver"], "CGROUPFS");
  const auto& fs = json["image_fs_info"]["image_filesystems"][0];
  EXPECT_EQ(fs["fs_id"]["mountpoint"], "/var/lib/fakecri/images");
  EXPECT_EQ(fs["used_bytes"]["value"], 3221225472u);  // 64-bit integers stay numbers
  EXPECT_FALSE(json["status"].contains("info") && !json["status"]["info"].empty());
}

TEST(InfoIntegrationTest, VerboseAsksForTheInfoMap) {
  FakeRuntime runtime(HealthyRuntime());
  CliResult json = RunCrispForTest({"info", "-e", runtime.endpoint(), "-o", "json", "--verbose"});
  ASSERT_EQ(json.code, cli::kExitOk) << json.err;
  EXPECT_EQ(nlohmann::json::parse(json.out)["status"]["info"]["config"], "{\"fake\":true}");
  CliResult table = RunCrispForTest({"info", "-e", runtime.endpoint(), "-v"});
  EXPECT_THAT(table.out, ContainsRegex("Info config +\\{\"fake\":true\\}"));
}

TEST(InfoIntegrationTest, UnimplementedRuntimeConfigIsShownNotFatal) {
  auto config = HealthyRuntime();
  config.runtime_config.reset();
  FakeRuntime runtime(std::move(config));

  CliResult table = RunCrispForTest({"info", "-e", runtime.endpoint()});
  ASSERT_EQ(table.code, cli::kExitOk) << table.err;
  EXPECT_THAT(table.out, ContainsRegex("Cgroup driver +unknown \\(RuntimeConfig: Unimplemented: "));

  CliResult json = RunCrispForTest({"info", "-e", runtime.endpoint(), "-o", "json"});
  ASSERT_EQ(json.code, cli::kExitOk);
  auto parsed = nlohmann::json::parse(json.out);
  EXPECT_EQ(parsed["runtime_config"]["error"]["code"], 12);
  EXPECT_EQ(parsed["runtime_config"]["error"]["code_name"], "Unimplemented");
}

TEST(InfoIntegrationTest, GrpcServerWithoutRuntimeServiceIsNotACriV1Server) {
  auto config = HealthyRuntime();
  config.without_runtime_service = true;
  FakeRuntime runtime(std::move(config));
  CliResult result = RunCrispForTest({"info", "-e", runtime.endpoint()});
  EXPECT_EQ(result.code, cli::kExitUsage);
  EXPECT_THAT(result.err, HasSubstr("endpoint " + runtime.endpoint() + ": not a CRI v1 server"));
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1);
  EXPECT_THAT(result.out, IsEmpty());
}

TEST(InfoIntegrationTest, SlowVersionIsATimeoutNamingTheLimit) {
  auto config = HealthyRuntime();
  config.version_delay = absl::Seconds(5);
  FakeRuntime runtime(std::move(config));
  CliResult result = RunCrispForTest({"--timeout", "300ms", "info", "-e", runtime.endpoint()});
  EXPECT_EQ(result.code, cli::kExitUsage);
  EXPECT_THAT(result.err, HasSubstr("timeout: no answer to Version within 300ms"));
}

// A unix socket whose server accepts and then either answers with something
// that is not HTTP/2 (an HTTP/1.1 reply), as a stray daemon would, or says
// nothing at all, as a ttrpc server does to a gRPC client.
class NotGrpcServer {
 public:
  explicit NotGrpcServer(bool silent = false) {
    char pattern[] = "/tmp/crisp-notgrpc-XXXXXX";
    dir_ = mkdtemp(pattern);
    path_ = dir_ + "/daemon.sock";
    fd_ = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path_.c_str(), sizeof(address.sun_path) - 1);
    bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    listen(fd_, 8);
    thread_ = std::thread([this, silent] {
      while (!stop_) {
        int client = accept(fd_, nullptr, nullptr);
        if (client < 0) break;
        if (silent) {
          clients_.push_back(client);  // held open, never answered
          continue;
        }
        static constexpr char kReply[] = "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n";
        ssize_t ignored = send(client, kReply, sizeof(kReply) - 1, MSG_NOSIGNAL);
        (void)ignored;
        close(client);
      }
    });
  }
  ~NotGrpcServer() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
    for (int client : clients_) close(client);
    std::filesystem::remove_all(dir_);
  }
  const std::string& path() const { return path_; }

 private:
  std::string dir_;
  std::string path_;
  int fd_ = -1;
  std::vector<int> clients_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(InfoIntegrationTest, SocketThatDoesNotSpeakGrpcIsNotACriServer) {
  NotGrpcServer server;
  CliResult result = RunCrispForTest({"--timeout", "3s", "info", "-e", server.path()});
  EXPECT_EQ(result.code, cli::kExitUsage);
  EXPECT_THAT(result.err, HasSubstr("not a CRI server"));
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
}

TEST(InfoIntegrationTest, SilentSocketIsNotACriServerRatherThanSlow) {
  NotGrpcServer server(/*silent=*/true);
  CliResult result = RunCrispForTest({"--timeout", "500ms", "info", "-e", server.path()});
  EXPECT_EQ(result.code, cli::kExitUsage);
  EXPECT_THAT(result.err, HasSubstr("no gRPC connection was made within 500ms"));
}

}  // namespace
}  // namespace crisp
