// HostLocalIpam: the order addresses are handed out in, the files it
// keeps, and that the real host-local plugin releases what it reserved (and
// the other way round): crispd reset tears the default network down with
// the CNI plugins.
#include "reference_runtime/sandbox/host_local_ipam.h"

#include <filesystem>
#include <fstream>

#include "common/subprocess.h"
#include "common/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crisp::crispd {
namespace {

namespace fs = std::filesystem;

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class HostLocalIpamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<TempDir> temp = TempDir::Make("crispd-ipam-test");
    ASSERT_TRUE(temp.ok()) << temp.status();
    temp_ = std::move(*temp);
  }
  std::string Reserve(HostLocalIpam& ipam, const std::string& id) {
    absl::StatusOr<uint32_t> address = ipam.Reserve(id, "eth0");
    return address.ok() ? FormatIpv4(*address) : std::string(address.status().message());
  }
  TempDir temp_;
};

TEST(Ipv4SubnetTest, ParsesAndMasks) {
  absl::StatusOr<Ipv4Subnet> subnet = Ipv4Subnet::Parse("10.98.7.9/16");
  ASSERT_TRUE(subnet.ok()) << subnet.status();
  EXPECT_EQ(FormatIpv4(subnet->network), "10.98.0.0");
  EXPECT_EQ(FormatIpv4(subnet->gateway()), "10.98.0.1");
  EXPECT_EQ(FormatIpv4(subnet->broadcast()), "10.98.255.255");
  for (const char* bad : {"10.98.0.0", "10.98.0.0/31", "10.98.0.0/x", "ten/16", "10.98.0.0/16/1", "::1/64"}) {
    EXPECT_FALSE(Ipv4Subnet::Parse(bad).ok()) << bad;
  }
}

TEST_F(HostLocalIpamTest, HandsOutAfterTheLastOneRoundTheRangeSkippingTheGateway) {
  HostLocalIpam ipam(temp_.path(), "net", *Ipv4Subnet::Parse("10.9.9.0/29"));  // .1 gateway, .2-.6 to give
  EXPECT_EQ(Reserve(ipam, "a"), "10.9.9.2");
  EXPECT_EQ(Reserve(ipam, "b"), "10.9.9.3");
  EXPECT_EQ(Slurp(temp_.path() + "/net/10.9.9.2"), "a\r\neth0");
  EXPECT_EQ(Slurp(temp_.path() + "/net/last_reserved_ip.0"), "10.9.9.3");
  ASSERT_TRUE(ipam.Release("a", "eth0").ok());
  EXPECT_FALSE(fs::exists(temp_.path() + "/net/10.9.9.2"));
  EXPECT_EQ(Reserve(ipam, "c"), "10.9.9.4") << "a freed address is not handed out again at once";
  EXPECT_EQ(Reserve(ipam, "d"), "10.9.9.5");
  EXPECT_EQ(Reserve(ipam, "e"), "10.9.9.6");
  EXPECT_EQ(Reserve(ipam, "f"), "10.9.9.2") << "round the range, past the gateway";
  EXPECT_THAT(Reserve(ipam, "g"), ::testing::HasSubstr("no free address left in 10.9.9.0/29"));
  ASSERT_TRUE(ipam.Release("nobody", "eth0").ok());
}

// The CNI host-local plugin, run as the bridge plugin runs it.
absl::StatusOr<RunResult> HostLocal(const std::string& command, const std::string& id, const std::string& data_dir) {
  RunOptions options;
  options.spawn.argv = {"/usr/lib/cni/host-local"};
  options.spawn.env = std::vector<std::string>{"CNI_COMMAND=" + command, "CNI_CONTAINERID=" + id, "CNI_NETNS=/dev/null",
                                               "CNI_IFNAME=eth0", "CNI_PATH=/usr/lib/cni"};
  options.input = R"({"cniVersion": "0.4.0", "name": "net", "ipam": {"type": "host-local", "dataDir": ")" + data_dir +
                  R"(", "ranges": [[{"subnet": "10.9.9.0/29"}]]}})";
  options.timeout = absl::Seconds(10);
  return RunProgram(options);
}

TEST_F(HostLocalIpamTest, TheHostLocalPluginAndThisShareOneStore) {
  if (!fs::exists("/usr/lib/cni/host-local")) GTEST_SKIP() << "no CNI host-local plugin here";
  HostLocalIpam ipam(temp_.path(), "net", *Ipv4Subnet::Parse("10.9.9.0/29"));
  EXPECT_EQ(Reserve(ipam, "ours"), "10.9.9.2");
  absl::StatusOr<RunResult> added = HostLocal("ADD", "theirs", temp_.path());
  ASSERT_TRUE(added.ok()) << added.status();
  ASSERT_TRUE(added->status.success()) << added->stdout_text << added->stderr_text;
  EXPECT_THAT(added->stdout_text, ::testing::HasSubstr("10.9.9.3/29")) << "the plugin goes on after our last one";
  EXPECT_EQ(Reserve(ipam, "ours-too"), "10.9.9.4") << "and we after its";

  absl::StatusOr<RunResult> deleted = HostLocal("DEL", "ours", temp_.path());
  ASSERT_TRUE(deleted.ok() && deleted->status.success());
  EXPECT_FALSE(fs::exists(temp_.path() + "/net/10.9.9.2")) << "the plugin released what we reserved";
  ASSERT_TRUE(ipam.Release("theirs", "eth0").ok());
  EXPECT_FALSE(fs::exists(temp_.path() + "/net/10.9.9.3")) << "we released what the plugin reserved";
  EXPECT_TRUE(fs::exists(temp_.path() + "/net/10.9.9.4"));
}

}  // namespace
}  // namespace crisp::crispd
