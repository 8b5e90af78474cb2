#include "harness/runner/host_actions.h"

#include <sys/mount.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crisp::runner {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;

TEST(HostSideTest, FilesDirectoriesAndLinksAreMadeAndRemoved) {
  std::string dir, file;
  {
    HostSide host("test");
    absl::StatusOr<json> made = host.Run("temp_dir", json::object());
    ASSERT_TRUE(made.ok()) << made.status();
    dir = (*made)["path"];
    EXPECT_TRUE(std::filesystem::is_directory(dir));
    absl::StatusOr<json> written = host.Run("write_file", {{"path", dir + "/flag"}, {"content", "hello"}});
    ASSERT_TRUE(written.ok());
    absl::StatusOr<json> link = host.Run("symlink", {{"target", dir}});
    ASSERT_TRUE(link.ok());
    absl::StatusOr<json> second_link = host.Run("symlink", {{"target", dir}});
    ASSERT_TRUE(second_link.ok()) << second_link.status();  // each gets its own name
    EXPECT_NE((*second_link)["path"], (*link)["path"]);
    EXPECT_FALSE(host.Run("write_file", {{"content", "x"}, {"mode", "rw"}}).ok());  // an error, not a throw
    absl::StatusOr<json> seen = host.Run("stat", {{"path", (*link)["path"].get<std::string>() + "/flag"}});
    ASSERT_TRUE(seen.ok());
    EXPECT_EQ((*seen)["exists"], true);
    EXPECT_EQ((*seen)["type"], "file");
    EXPECT_EQ((*seen)["content"], "hello");
    absl::StatusOr<json> temp = host.Run("write_file", {{"content", "{}"}});
    ASSERT_TRUE(temp.ok());
    file = (*temp)["path"];
    EXPECT_TRUE(std::filesystem::exists(file));
    EXPECT_EQ((*host.Run("stat", {{"path", "/nonexistent/x"}}))["exists"], false);
    EXPECT_TRUE(host.Undo().empty());
  }
  EXPECT_FALSE(std::filesystem::exists(dir));
  EXPECT_FALSE(std::filesystem::exists(file));
}

TEST(HostSideTest, MountsAreDetachedBeforeTheirDirectoryGoes) {
  if (geteuid() != 0) GTEST_SKIP() << "mounting needs root";
  HostSide host("test");
  std::string dir = (*host.Run("temp_dir", json::object()))["path"];
  absl::StatusOr<json> mounted = host.Run("mount", {{"type", "tmpfs"}, {"target", dir + "/sub"}, {"propagation", "shared"}});
  ASSERT_TRUE(mounted.ok()) << mounted.status();
  std::ifstream mounts("/proc/self/mountinfo");
  std::string text((std::istreambuf_iterator<char>(mounts)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, HasSubstr(dir + "/sub"));
  EXPECT_TRUE(host.Undo().empty());
  EXPECT_FALSE(std::filesystem::exists(dir));

  // Bad arguments are refused before anything is made.
  std::string elsewhere = ::testing::TempDir() + "/crisp-mount-" + std::to_string(getpid());
  EXPECT_FALSE(host.Run("mount", {{"type", "nfs"}, {"target", elsewhere}}).ok());
  EXPECT_FALSE(host.Run("mount", {{"type", "tmpfs"}, {"target", elsewhere}, {"propagation", "sideways"}}).ok());
  EXPECT_FALSE(std::filesystem::exists(elsewhere));
  // Directories a mount needed are removed after it.
  ASSERT_TRUE(host.Run("mount", {{"type", "tmpfs"}, {"target", elsewhere + "/a/b"}}).ok());
  EXPECT_TRUE(host.Undo().empty());
  EXPECT_FALSE(std::filesystem::exists(elsewhere));
}

TEST(HostSideTest, NothingIsDeletedThroughAMountThatStayed) {
  if (geteuid() != 0) GTEST_SKIP() << "mounting needs root";
  HostSide host("test");
  std::string dir = (*host.Run("temp_dir", json::object()))["path"];
  std::string source = ::testing::TempDir() + "/crisp-keep-" + std::to_string(getpid());
  std::filesystem::create_directories(source);
  std::ofstream(source + "/precious") << "keep";
  ASSERT_TRUE(host.Run("mount", {{"source", source}, {"target", dir + "/in"}}).ok());
  // A second mount of the same source that the scenario did not make (as a
  // container's propagated mount would be): Undo must not delete through it.
  ASSERT_EQ(mount(source.c_str(), (dir + "/in").c_str(), nullptr, MS_BIND, nullptr), 0);
  std::vector<std::string> problems = host.Undo();
  ASSERT_FALSE(problems.empty());
  EXPECT_THAT(problems.back(), HasSubstr("is still mounted there"));
  EXPECT_TRUE(std::filesystem::exists(source + "/precious"));
  umount2((dir + "/in").c_str(), MNT_DETACH);
  std::filesystem::remove_all(std::filesystem::path(dir).parent_path());  // the scenario's area
  std::filesystem::remove_all(source);
}

// The host's address on its default route, when it has one (this kind of
// machine does); else a clear NotFound, never loopback.
TEST(HostSideTest, HostAddressIsTheDefaultRoutesIpv4) {
  HostSide host("test");
  absl::StatusOr<json> address = host.Run("host_address", json::object());
  std::ifstream routes("/proc/net/route");
  std::string text((std::istreambuf_iterator<char>(routes)), std::istreambuf_iterator<char>());
  if (text.find("\t00000000\t") == std::string::npos) {
    EXPECT_EQ(address.status().code(), absl::StatusCode::kNotFound);
    return;
  }
  ASSERT_TRUE(address.ok()) << address.status();
  std::string ipv4 = (*address)["ipv4"];
  EXPECT_THAT(ipv4, ::testing::MatchesRegex(R"([0-9]+\.[0-9]+\.[0-9]+\.[0-9]+)"));
  EXPECT_NE(ipv4.rfind("127.", 0), 0u) << ipv4;
  EXPECT_THAT(text, HasSubstr((*address)["interface"].get<std::string>() + "\t00000000"));
}

TEST(StreamingUrlFormTest, EachFormIsNamed) {
  EXPECT_EQ(StreamingUrlForm("http://127.0.0.1:1/exec/x"), "absolute");
  EXPECT_EQ(StreamingUrlForm("//127.0.0.1:39107/cri/exec/x"), "scheme-relative");
  EXPECT_EQ(StreamingUrlForm("/cri/exec/x"), "path-only");
  EXPECT_EQ(StreamingUrlForm("exec/x"), "other");
}

// A URL without a scheme is dialled as http; the observation says so. A
// path-only URL has no host: the stream fails with the reason.
TEST(HostSideTest, SchemeRelativeStreamingUrlsAreDialledAsHttp) {
  HostSide host("test");
  absl::StatusOr<json> listener = host.Run("tcp_listen", json::object());
  ASSERT_TRUE(listener.ok());
  std::string port = std::to_string((*listener)["port"].get<int>());
  absl::StatusOr<json> relative = host.Run("stream", {{"url", "//127.0.0.1:" + port + "/exec/x"}, {"timeout", 1}});
  ASSERT_TRUE(relative.ok()) << relative.status();
  EXPECT_EQ((*relative)["url_form"], "scheme-relative");
  // Our listener never answers the upgrade: dialled, then timed out, not refused as malformed.
  EXPECT_THAT((*relative)["error"].get<std::string>(), ::testing::Not(HasSubstr("not an http")));
  absl::StatusOr<json> path_only = host.Run("port_forward", {{"url", "/portforward/x"}, {"timeout", 1}});
  ASSERT_TRUE(path_only.ok());
  EXPECT_EQ((*path_only)["url_form"], "path-only");
  EXPECT_EQ((*path_only)["connected"], false);
  EXPECT_THAT((*path_only)["error"].get<std::string>(), HasSubstr("/portforward/x"));
}

TEST(HostSideTest, ListenerHttpAndCommands) {
  HostSide host("test");
  absl::StatusOr<json> listener = host.Run("tcp_listen", json::object());
  ASSERT_TRUE(listener.ok());
  int port = (*listener)["port"];
  EXPECT_GT(port, 0);
  // Something listens but does not speak HTTP: no answer, not a harness error.
  json answer = HttpGet("http://127.0.0.1:" + std::to_string(port) + "/", 300);
  EXPECT_EQ(answer["status"], 0);
  EXPECT_FALSE(answer["error"].get<std::string>().empty());
  host.Undo();
  json refused = HttpGet("http://127.0.0.1:" + std::to_string(port) + "/", 300);
  EXPECT_THAT(refused["error"].get<std::string>(), HasSubstr("refused"));
  EXPECT_THAT(HttpGet("ftp://x/", 100)["error"].get<std::string>(), HasSubstr("not an http:// URL"));

  absl::StatusOr<json> ran = host.Run("run", {{"argv", {"sh", "-c", "echo out; echo err >&2; exit 3"}}});
  ASSERT_TRUE(ran.ok());
  EXPECT_EQ((*ran)["exit_code"], 3);
  EXPECT_EQ((*ran)["stdout"], "out\n");
  EXPECT_EQ((*ran)["stderr"], "err\n");
  absl::StatusOr<json> slow = RunHostCommand({"sleep", "5"}, 200);
  ASSERT_TRUE(slow.ok());
  EXPECT_EQ((*slow)["exit_code"], -1);
  // A command that closes its output and lives on, with a child: the
  // deadline still holds, and the child goes too.
  absl::StatusOr<json> quiet = RunHostCommand({"sh", "-c", "exec >/dev/null 2>&1; sleep 7 & sleep 6"}, 300);
  ASSERT_TRUE(quiet.ok());
  EXPECT_EQ((*quiet)["exit_code"], -1);
  absl::StatusOr<json> left = RunHostCommand({"pgrep", "-f", "^sleep 7$"}, 2000);
  ASSERT_TRUE(left.ok()) << left.status();
  EXPECT_EQ((*left)["exit_code"], 1);  // pgrep: nothing matched (not 2, an error)
  // Bytes that are not UTF-8 come back as base64, not as broken JSON text.
  absl::StatusOr<json> binary = RunHostCommand({"printf", "\\377\\376"}, 2000);
  ASSERT_TRUE(binary.ok());
  EXPECT_EQ((*binary)["stdout"], json({{"base64", "//4="}}));
  EXPECT_FALSE(host.Run("run", {{"argv", {"/nonexistent/tool"}}}).ok());
  absl::StatusOr<json> wrong = host.Run("tcp_listen", {{"port", "eighty"}});
  ASSERT_FALSE(wrong.ok());
  EXPECT_THAT(wrong.status().message(), HasSubstr("tcp_listen: an argument has the wrong type"));

  // undo: runs when the scenario ends, and a failing one is reported.
  std::string marker = ::testing::TempDir() + "/crisp-undo-" + std::to_string(getpid());
  ASSERT_TRUE(host.Run("run", {{"argv", {"touch", marker}}, {"undo", {"rm", marker}}}).ok());
  ASSERT_TRUE(host.Run("run", {{"argv", {"true"}}, {"undo", {"false"}}}).ok());
  EXPECT_TRUE(std::filesystem::exists(marker));
  std::vector<std::string> problems = host.Undo();
  EXPECT_FALSE(std::filesystem::exists(marker));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_THAT(problems[0], HasSubstr("undo false"));
}

}  // namespace
}  // namespace crisp::runner
