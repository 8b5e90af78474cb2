#include "harness/runner/node.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "common/temp_dir.h"
#include "gtest/gtest.h"

namespace crisp::runner {
namespace {

const std::map<std::string, std::string> kHost = {
    {"mnt", "mnt:[1]"}, {"net", "net:[2]"}, {"pid", "pid:[3]"}, {"ipc", "ipc:[4]"}};

TEST(NodeViewTest, ARuntimeOutOfSightSharesNothing) {
  NodeView view = NodeView::FromPeer(0, kHost, {});
  EXPECT_FALSE(view.mnt || view.net || view.pid || view.ipc);
  EXPECT_NE(view.Unshared("node-network-namespace").find("network namespace"), std::string::npos);
  EXPECT_NE(view.Unshared("node-network-namespace").find("out of sight"), std::string::npos);
}

TEST(NodeViewTest, ComparesEachNamespace) {
  // A pod with hostPID and hostNetwork, but its own mounts and IPC.
  std::map<std::string, std::string> pod = {
      {"mnt", "mnt:[9]"}, {"net", "net:[2]"}, {"pid", "pid:[3]"}, {"ipc", "ipc:[8]"}};
  NodeView view = NodeView::FromPeer(42, pod, kHost);
  EXPECT_FALSE(view.mnt);
  EXPECT_TRUE(view.net);
  EXPECT_TRUE(view.pid);
  EXPECT_FALSE(view.ipc);
  EXPECT_EQ(view.Unshared("node-network-namespace"), "");
  EXPECT_NE(view.Unshared("node-mount-namespace").find("other mnt"), std::string::npos);
  EXPECT_NE(view.how.find("runtime PID 42"), std::string::npos);
}

TEST(NodeViewTest, UnreadableLinksOfAVisibleRuntimeProveNothing) {
  // A pod with hostPID but no capabilities sees the runtime's PID and
  // cannot read its namespaces: nothing is shared that was not proved.
  NodeView view = NodeView::FromPeer(42, kHost, {{"mnt", ""}, {"net", ""}, {"pid", ""}, {"ipc", ""}});
  EXPECT_FALSE(view.mnt || view.net || view.pid || view.ipc);
  EXPECT_NE(view.how.find("unreadable mnt"), std::string::npos);
}

TEST(NodeViewTest, StatedList) {
  absl::StatusOr<NodeView> view = NodeView::FromList("net,pid");
  ASSERT_TRUE(view.ok());
  EXPECT_FALSE(view->mnt);
  EXPECT_TRUE(view->net);
  EXPECT_TRUE(view->pid);
  EXPECT_FALSE(view->ipc);
  absl::StatusOr<NodeView> none = NodeView::FromList("none");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->net);
  absl::StatusOr<NodeView> bad = NodeView::FromList("net,uts");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("\"uts\""), std::string::npos);
}

TEST(NodeViewTest, ProbesARealSocketServedByThisProcess) {
  // The server end is this process: every namespace is the same.
  unsetenv("CRISP_NODE_NAMESPACES");
  absl::StatusOr<TempDir> dir = TempDir::Make("crisp-node-test");
  ASSERT_TRUE(dir.ok());
  std::string path = (std::filesystem::path(dir->path()) / "s.sock").string();
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof(address.sun_path), "%s", path.c_str());
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(fd, 4), 0);
  NodeView view = NodeView::Probe(path);
  close(fd);
  EXPECT_TRUE(view.mnt && view.net && view.pid && view.ipc) << view.how;
  EXPECT_NE(view.how.find(std::to_string(getpid())), std::string::npos) << view.how;
  EXPECT_NE(view.how.find("same mnt"), std::string::npos) << view.how;
}

TEST(NodeViewTest, PodLogsFromTheSameMountsOrAGivenNodePath) {
  NodeView view = NodeView::FromPeer(0, kHost, {});
  EXPECT_FALSE(view.PodLogs());
  EXPECT_NE(view.Unshared("node-pod-logs").find("CRISP_NODE_PATHS"), std::string::npos);
  view.node_paths = {"/var/lib/other", "/tmp/crisp-pods"};
  EXPECT_FALSE(view.PodLogs());
  view.node_paths = {"/tmp/crisp/pods/"};
  EXPECT_TRUE(view.PodLogs());
  view.node_paths = {"/tmp"};
  EXPECT_TRUE(view.PodLogs());
  EXPECT_EQ(view.Unshared("node-pod-logs"), "");
  EXPECT_FALSE(view.mnt);  // the rest of the node's files stay out of sight
  NodeView host = NodeView::FromPeer(42, kHost, kHost);
  EXPECT_TRUE(host.PodLogs());
}

TEST(NodeFactsTest, NameFromTheEnvironmentElseTheHost) {
  setenv("CRISP_NODE_NAME", "node-7", 1);
  EXPECT_EQ(NodeFacts::Probe().name, "node-7");
  unsetenv("CRISP_NODE_NAME");
  NodeFacts facts = NodeFacts::Probe();
  EXPECT_FALSE(facts.name.empty());
  EXPECT_FALSE(facts.kernel.empty());
  EXPECT_FALSE(facts.arch.empty());
}

TEST(NodeFactsTest, OsFromTheGivenOsRelease) {
  absl::StatusOr<TempDir> dir = TempDir::Make("crisp-node-test");
  ASSERT_TRUE(dir.ok());
  std::string path = (std::filesystem::path(dir->path()) / "os-release").string();
  FILE* out = std::fopen(path.c_str(), "w");
  ASSERT_NE(out, nullptr);
  std::fputs("NAME=\"Test\"\nPRETTY_NAME=\"Test Linux 9 (tarsier)\"\nID=test\n", out);
  std::fclose(out);
  setenv("CRISP_NODE_OS_RELEASE", path.c_str(), 1);
  EXPECT_EQ(NodeFacts::Probe().os, "Test Linux 9 (tarsier)");
  unsetenv("CRISP_NODE_OS_RELEASE");
}

}  // namespace
}  // namespace crisp::runner
