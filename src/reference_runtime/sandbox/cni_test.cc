// The CNI exec protocol (SPEC.md) against fake plugins: shell scripts that
// log their environment and stdin, and answer as a plugin would. No root
// and no network namespace needed.
#include "reference_runtime/sandbox/cni.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crisp::crispd {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

class CniTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<TempDir> temp = TempDir::Make("crispd-cni-test");
    ASSERT_TRUE(temp.ok()) << temp.status();
    temp_ = std::move(*temp);
    config_.conf_dir = temp_.path() + "/net.d";
    config_.bin_dir = temp_.path() + "/bin";
    config_.ipam_dir = temp_.path() + "/ipam";
    config_.subnet = "10.77.0.0/16";
    config_.bridge = "crisp-test0";
    fs::create_directories(config_.bin_dir);
    // Every plugin logs "<type> <command> <ifname> <stdin>" as one line.
    Plugin("loopback", "echo '{\"cniVersion\": \"0.4.0\"}'");
    Plugin("bridge", "echo '{\"cniVersion\": \"0.4.0\", \"ips\": [{\"address\": \"fd00::5/64\"}, "
                     "{\"address\": \"10.77.0.5/16\"}]}'");
    // As a chained plugin does, portmap answers the result it was given.
    Plugin("portmap", "if [ \"$CNI_COMMAND\" = ADD ]; then printf '%s' \"$input\" | jq -c .prevResult; fi");
  }
  void Plugin(const std::string& type, const std::string& answer) {
    std::string path = config_.bin_dir + "/" + type;
    std::ofstream(path) << "#!/bin/sh\n"
                        << "input=$(cat)\n"
                        << "echo \"" << type << " $CNI_COMMAND $CNI_IFNAME $CNI_CONTAINERID $CNI_NETNS $input\" >> "
                        << temp_.path() << "/calls\n"
                        << answer << "\n";
    chmod(path.c_str(), 0755);
  }
  std::vector<std::string> Calls() {
    std::ifstream in(temp_.path() + "/calls");
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }
  TempDir temp_;
  CniConfig config_;
};

TEST_F(CniTest, TheDefaultNetworkIsWrittenOnceAndNamesItsPlugins) {
  Cni cni(config_);
  ASSERT_TRUE(cni.EnsureDefaultNetwork().ok());
  std::ifstream in(config_.conf_dir + "/10-crispd.conflist");
  json network = json::parse(in);
  EXPECT_EQ(network["plugins"][0]["type"], "bridge");
  EXPECT_EQ(network["plugins"][0]["bridge"], "crisp-test0");
  EXPECT_EQ(network["plugins"][0]["ipam"]["ranges"][0][0]["subnet"], "10.77.0.0/16");
  EXPECT_EQ(network["plugins"][0]["ipam"]["dataDir"], config_.ipam_dir);
  EXPECT_EQ(network["plugins"][1]["type"], "portmap");
  // A directory with a network already is left alone.
  std::ofstream(config_.conf_dir + "/10-crispd.conflist") << R"({"name": "mine", "plugins": []})";
  ASSERT_TRUE(cni.EnsureDefaultNetwork().ok());
  std::ifstream again(config_.conf_dir + "/10-crispd.conflist");
  EXPECT_EQ(json::parse(again)["name"], "mine");
}

TEST_F(CniTest, ReadySaysWhatIsMissing) {
  Cni cni(config_);
  std::string why;
  EXPECT_FALSE(cni.Ready(&why));
  EXPECT_THAT(why, HasSubstr("no *.conflist"));
  ASSERT_TRUE(cni.EnsureDefaultNetwork().ok());
  EXPECT_TRUE(cni.Ready(&why)) << why;
  fs::remove(config_.bin_dir + "/portmap");
  EXPECT_FALSE(cni.Ready(&why));
  EXPECT_THAT(why, HasSubstr("portmap is missing"));
}

TEST_F(CniTest, AddRunsLoopbackThenEveryPluginAndAnswersTheIPv4Address) {
  Cni cni(config_);
  ASSERT_TRUE(cni.EnsureDefaultNetwork().ok());
  json ports = json::array({{{"hostPort", 8080}, {"containerPort", 80}, {"protocol", "tcp"}, {"hostIP", ""}}});
  absl::StatusOr<std::string> ip = cni.Add("sandbox1", "/var/run/netns/x", ports);
  ASSERT_TRUE(ip.ok()) << ip.status();
  EXPECT_EQ(*ip, "10.77.0.5");
  std::vector<std::string> calls = Calls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_THAT(calls[0], HasSubstr("loopback ADD lo sandbox1 /var/run/netns/x"));
  EXPECT_THAT(calls[1], HasSubstr("bridge ADD eth0 sandbox1"));
  EXPECT_THAT(calls[2], HasSubstr("portmap ADD eth0"));
  EXPECT_THAT(calls[2], HasSubstr("\"runtimeConfig\":{\"portMappings\":[{\"containerPort\":80"));
  EXPECT_THAT(calls[2], HasSubstr("\"prevResult\":{"));
  EXPECT_THAT(calls[2], HasSubstr("\"name\":\"crispd\""));
}

TEST_F(CniTest, AFailedPluginUndoesTheAddAndSaysWhy) {
  Cni cni(config_);
  ASSERT_TRUE(cni.EnsureDefaultNetwork().ok());
  Plugin("portmap", "if [ \"$CNI_COMMAND\" = ADD ]; then echo '{\"code\": 7, \"msg\": \"port taken\", "
                    "\"details\": \"8080\"}'; exit 1; fi");
  absl::StatusOr<std::string> ip = cni.Add("sandbox1", "/var/run/netns/x", json::array());
  ASSERT_FALSE(ip.ok());
  EXPECT_THAT(ip.status().message(), HasSubstr("CNI plugin portmap ADD failed: port taken: 8080"));
  std::vector<std::string> calls = Calls();
  ASSERT_EQ(calls.size(), 5u);
  EXPECT_THAT(calls[3], HasSubstr("portmap DEL"));  // DEL in reverse order
  EXPECT_THAT(calls[4], HasSubstr("bridge DEL"));
}

TEST_F(CniTest, DelRunsEveryPluginInReverseAndReportsTheFirstError) {
  Cni cni(config_);
  ASSERT_TRUE(cni.EnsureDefaultNetwork().ok());
  Plugin("portmap", "echo 'no iptables' >&2; exit 1");
  absl::Status deleted = cni.Del("sandbox1", "/var/run/netns/x", json::array());
  EXPECT_THAT(deleted.message(), HasSubstr("portmap DEL failed: no iptables"));
  std::vector<std::string> calls = Calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_THAT(calls[1], HasSubstr("bridge DEL")) << "a failing plugin must not stop the others' DEL";
}

TEST_F(CniTest, ANetworkWithoutAnIPv4AddressOrWithBrokenOutputFails) {
  Cni cni(config_);
  ASSERT_TRUE(cni.EnsureDefaultNetwork().ok());
  Plugin("bridge", "echo '{\"ips\": [{\"address\": \"fd00::5/64\"}]}'");
  EXPECT_THAT(cni.Add("s", "/n", json::array()).status().message(), HasSubstr("no IPv4 address"));
  Plugin("bridge", "echo 'not json'");
  EXPECT_THAT(cni.Add("s", "/n", json::array()).status().message(), HasSubstr("printed no JSON result"));
  std::ofstream(config_.conf_dir + "/10-crispd.conflist") << "{ broken";
  EXPECT_THAT(cni.Add("s", "/n", json::array()).status().message(), HasSubstr("is not a CNI network configuration list"));
}

}  // namespace
}  // namespace crisp::crispd
