// ThreadNamespacePinner and ReadProcInNetns on the real kernel: they need
// root (unshare, setns, mount), and skip without it.
#include "reference_runtime/host/namespace_pins.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "common/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crisp::crispd {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

ino_t Inode(const std::string& path) {
  struct stat info {};
  return stat(path.c_str(), &info) == 0 ? info.st_ino : 0;
}

// Runs `fn` on a thread that joined the namespace at `path`.
template <typename Fn>
void Inside(const std::string& path, int type, Fn fn) {
  std::thread([&] {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0) << path;
    ASSERT_EQ(setns(fd, type), 0) << path;
    close(fd);
    fn();
  }).join();
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::string text;
  std::getline(in, text);
  return text;
}

class NamespacePinsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "pinning namespaces needs root";
    absl::StatusOr<TempDir> temp = TempDir::Make("crispd-pins-test");
    ASSERT_TRUE(temp.ok()) << temp.status();
    temp_ = std::move(*temp);
    fs::create_directories(temp_.path() + "/cgroup/memory");  // a stand-in hierarchy
  }
  TempDir temp_;
};

TEST_F(NamespacePinsTest, PinsNewUtsAndIpcNamespacesWithTheHostnameAndSysctlsSetInThem) {
  ThreadNamespacePinner pinner(temp_.path() + "/cgroup");
  NamespacePinner::Request request{temp_.path() + "/pod", true, "pinned-pod", "", {{"kernel.shmmni", "1234"}},
                                   "/crisp-test/pod"};
  absl::StatusOr<std::map<std::string, std::string>> pins = pinner.Pin(request);
  ASSERT_TRUE(pins.ok()) << pins.status();
  ASSERT_EQ(pins->size(), 2u);
  const std::string uts = pins->at("uts"), ipc = pins->at("ipc");
  EXPECT_NE(Inode(uts), Inode("/proc/self/ns/uts")) << "a new UTS namespace, not crispd's";
  EXPECT_NE(Inode(ipc), Inode("/proc/self/ns/ipc"));
  std::string hostname(64, '\0');
  Inside(uts, CLONE_NEWUTS, [&] { gethostname(hostname.data(), hostname.size()); });
  EXPECT_EQ(hostname.c_str(), std::string("pinned-pod"));
  std::string shmmni;
  Inside(ipc, CLONE_NEWIPC, [&] { shmmni = ReadText("/proc/sys/kernel/shmmni"); });
  EXPECT_EQ(shmmni, "1234");
  EXPECT_NE(ReadText("/proc/sys/kernel/shmmni"), "1234") << "the node's own was changed";
  EXPECT_TRUE(fs::is_directory(temp_.path() + "/cgroup/memory/crisp-test/pod"));

  pinner.Unpin(request.dir, request.cgroup);
  EXPECT_FALSE(fs::exists(uts));
  EXPECT_FALSE(fs::exists(ipc));
  EXPECT_FALSE(fs::exists(temp_.path() + "/cgroup/memory/crisp-test/pod"));
  pinner.Unpin(request.dir, request.cgroup);  // again: gone is fine
}

TEST_F(NamespacePinsTest, AnUnknownSysctlFailsAndLeavesNothingPinned) {
  ThreadNamespacePinner pinner(temp_.path() + "/cgroup");
  NamespacePinner::Request request{temp_.path() + "/pod", false, "p", "", {{"kernel.no_such_sysctl", "1"}}, ""};
  absl::StatusOr<std::map<std::string, std::string>> pins = pinner.Pin(request);
  ASSERT_FALSE(pins.ok());
  EXPECT_THAT(std::string(pins.status().message()), HasSubstr("kernel.no_such_sysctl"));
  EXPECT_FALSE(fs::exists(temp_.path() + "/pod/ns/uts"));
  std::ifstream mountinfo("/proc/self/mountinfo");
  std::string mounts((std::istreambuf_iterator<char>(mountinfo)), std::istreambuf_iterator<char>());
  EXPECT_EQ(mounts.find(temp_.path()), std::string::npos) << "a pin stayed mounted";
}

TEST_F(NamespacePinsTest, ReadsProcAsTheNetworkNamespaceSeesIt) {
  absl::StatusOr<std::string> text = ReadProcInNetns("/proc/self/ns/net", "net/dev");
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_THAT(*text, HasSubstr("lo:"));
  EXPECT_FALSE(ReadProcInNetns(temp_.path() + "/none", "net/dev").ok());
}

}  // namespace
}  // namespace crisp::crispd
