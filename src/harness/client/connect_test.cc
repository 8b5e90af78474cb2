#include "harness/client/connect.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <cstring>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crisp::client {
namespace {

using ::testing::HasSubstr;

class ProbeSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/crisp-connect-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    if (fd_ >= 0) close(fd_);
    std::filesystem::remove_all(dir_);
  }

  Endpoint At(const std::string& path) {
    return *ParseEndpoint(path);
  }

  // Binds a unix socket at `path`; listens only when asked.
  void Bind(const std::string& path, bool listen_too) {
    fd_ = socket(AF_UNIX, SOCK_STREAM, 0);
    ASSERT_GE(fd_, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
    ASSERT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    if (listen_too) {
      ASSERT_EQ(listen(fd_, 4), 0);
    }
  }

  std::string dir_;
  int fd_ = -1;
};

TEST_F(ProbeSocketTest, MissingPathIsNoSuchSocket) {
  absl::Status status = ProbeSocket(At(dir_ + "/absent.sock"));
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(status.message(), HasSubstr("no such socket"));
  EXPECT_THAT(status.message(), HasSubstr(dir_ + "/absent.sock"));
}

TEST_F(ProbeSocketTest, RegularFileAndDirectoryAreNotSockets) {
  std::ofstream(dir_ + "/file.sock") << "x";
  EXPECT_THAT(ProbeSocket(At(dir_ + "/file.sock")).message(),
              HasSubstr("not a socket: " + dir_ + "/file.sock is a regular file"));
  EXPECT_THAT(ProbeSocket(At(dir_)).message(), HasSubstr("is a directory"));
}

TEST_F(ProbeSocketTest, SocketNobodyListensOnIsConnectionRefused) {
  Bind(dir_ + "/stale.sock", /*listen_too=*/false);
  absl::Status status = ProbeSocket(At(dir_ + "/stale.sock"));
  EXPECT_THAT(status.message(), HasSubstr("connection refused"));
}

TEST_F(ProbeSocketTest, ListeningSocketPasses) {
  Bind(dir_ + "/cri.sock", /*listen_too=*/true);
  EXPECT_TRUE(ProbeSocket(At(dir_ + "/cri.sock")).ok());
}

TEST_F(ProbeSocketTest, OverlongPathIsReportedNotTruncated) {
  std::string path = dir_ + "/" + std::string(120, 'a') + ".sock";
  std::ofstream(path) << "";  // a regular file: the probe stops before connecting
  absl::Status status = ProbeSocket(At(path));
  EXPECT_FALSE(status.ok());
  // The error names the whole path, not the 107 bytes sun_path would hold.
  EXPECT_THAT(status.message(), HasSubstr(path));
  EXPECT_THAT(status.message(), HasSubstr("not a socket"));
}

CallRecord Failed(absl::StatusCode code, std::string message) {
  CallRecord record;
  record.method = "Version";
  record.code = code;
  record.message = std::move(message);
  return record;
}

TEST(DescribeVersionFailureTest, NamesTheKindOfFailure) {
  EXPECT_THAT(DescribeVersionFailure(Failed(absl::StatusCode::kUnimplemented,
                                            "unknown service runtime.v1.RuntimeService"),
                                     absl::Seconds(10)),
              HasSubstr("not a CRI v1 server"));
  EXPECT_THAT(DescribeVersionFailure(Failed(absl::StatusCode::kDeadlineExceeded, ""),
                                     absl::Milliseconds(250)),
              HasSubstr("timeout: no answer to Version within 250ms"));
  CallRecord never_connected = Failed(absl::StatusCode::kDeadlineExceeded, "Deadline Exceeded");
  never_connected.transport_ready = false;
  EXPECT_THAT(DescribeVersionFailure(never_connected, absl::Seconds(2)),
              HasSubstr("not a CRI server: the socket accepts connections but no "
                        "gRPC connection was made within 2s"));
  EXPECT_THAT(DescribeVersionFailure(Failed(absl::StatusCode::kUnavailable, "Socket closed"),
                                     absl::Seconds(10)),
              HasSubstr("not a CRI server"));
  EXPECT_THAT(DescribeVersionFailure(Failed(absl::StatusCode::kPermissionDenied, "no"),
                                     absl::Seconds(10)),
              HasSubstr("Version failed: PermissionDenied: no"));
}

}  // namespace
}  // namespace crisp::client
