// Which seccomp profile a container gets, and what crispd's RuntimeDefault
// and a converted Localhost profile contain.
#include "reference_runtime/container/seccomp.h"

#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "common/temp_dir.h"

// The tests set the deprecated seccomp_profile_path on purpose.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace crisp::crispd {
namespace {

namespace v1 = runtime::v1;
using nlohmann::json;
using ::testing::HasSubstr;

// Every name the profile allows without argument conditions.
std::vector<std::string> AllowedUnconditionally(const json& seccomp) {
  std::vector<std::string> names;
  for (const json& rule : seccomp["syscalls"]) {
    if (rule["action"] != "SCMP_ACT_ALLOW" || rule.contains("args")) continue;
    for (const json& name : rule["names"]) names.push_back(name);
  }
  return names;
}

TEST(DefaultSeccompProfileTest, DeniesWithEpermAndAllowsTheCommonSet) {
  json profile = DefaultSeccompProfile({"CAP_CHOWN"});
  EXPECT_EQ(profile["defaultAction"], "SCMP_ACT_ERRNO");
  EXPECT_EQ(profile["defaultErrnoRet"], 1);
  EXPECT_FALSE(profile["architectures"].empty());
  std::vector<std::string> allowed = AllowedUnconditionally(profile);
  for (const char* name : {"read", "write", "execve", "openat", "mmap", "futex", "exit_group", "rt_sigreturn"}) {
    EXPECT_THAT(allowed, ::testing::Contains(name));
  }
  for (const char* name : {"sethostname", "mount", "unshare", "setns", "reboot", "ptrace", "init_module", "kexec_load"}) {
    EXPECT_THAT(allowed, ::testing::Not(::testing::Contains(name))) << name;
  }
}

TEST(DefaultSeccompProfileTest, CapabilitiesWidenIt) {
  std::vector<std::string> allowed = AllowedUnconditionally(DefaultSeccompProfile({"CAP_SYS_ADMIN", "CAP_SYS_PTRACE"}));
  for (const char* name : {"sethostname", "mount", "unshare", "setns", "clone", "clone3", "ptrace", "kcmp"}) {
    EXPECT_THAT(allowed, ::testing::Contains(name));
  }
  EXPECT_THAT(allowed, ::testing::Not(::testing::Contains("reboot")));
}

TEST(DefaultSeccompProfileTest, WithoutSysAdminCloneMakesNoNamespacesAndClone3IsEnosys) {
  json profile = DefaultSeccompProfile({});
  bool clone_masked = false, clone3_enosys = false;
  for (const json& rule : profile["syscalls"]) {
    if (rule["names"] == json::array({"clone"})) {
      clone_masked = rule["args"][0]["op"] == "SCMP_CMP_MASKED_EQ" && rule["args"][0]["value"] == 0x7E020000 &&
                     rule["args"][0]["valueTwo"] == 0;
    }
    if (rule["names"] == json::array({"clone3"})) {
      clone3_enosys = rule["action"] == "SCMP_ACT_ERRNO" && rule["errnoRet"] == 38;
    }
  }
  EXPECT_TRUE(clone_masked);
  EXPECT_TRUE(clone3_enosys);
}

TEST(SeccompFromProfileTest, MobyFormIsResolvedForThisMachineAndTheCapabilities) {
  json moby = {
      {"defaultAction", "SCMP_ACT_ERRNO"},
      {"archMap", {{{"architecture", "SCMP_ARCH_X86_64"}, {"subArchitectures", {"SCMP_ARCH_X86", "SCMP_ARCH_X32"}}},
                   {{"architecture", "SCMP_ARCH_AARCH64"}, {"subArchitectures", {"SCMP_ARCH_ARM"}}}}},
      {"syscalls",
       {{{"names", {"read", "write"}}, {"action", "SCMP_ACT_ALLOW"}},
        {{"name", "chmod"}, {"action", "SCMP_ACT_ALLOW"}},
        {{"names", {"mount"}}, {"action", "SCMP_ACT_ALLOW"}, {"includes", {{"caps", {"CAP_SYS_ADMIN"}}}}},
        {{"names", {"clone"}}, {"action", "SCMP_ACT_ALLOW"}, {"excludes", {{"caps", {"CAP_SYS_ADMIN"}}}}}}}};
  absl::StatusOr<json> plain = SeccompFromProfile(moby, {});
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_THAT(AllowedUnconditionally(*plain), ::testing::UnorderedElementsAre("read", "write", "chmod", "clone"));
#if defined(__x86_64__)
  EXPECT_EQ((*plain)["architectures"], json::array({"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}));
#endif
  absl::StatusOr<json> admin = SeccompFromProfile(moby, {"CAP_SYS_ADMIN"});
  ASSERT_TRUE(admin.ok());
  EXPECT_THAT(AllowedUnconditionally(*admin), ::testing::UnorderedElementsAre("read", "write", "chmod", "mount"));
}

TEST(SeccompFromProfileTest, NotAProfile) {
  EXPECT_TRUE(absl::IsInvalidArgument(SeccompFromProfile(json::array(), {}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(SeccompFromProfile({{"syscalls", json::array()}}, {}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      SeccompFromProfile({{"defaultAction", "SCMP_ACT_ALLOW"}, {"syscalls", {{{"names", {"read"}}}}}}, {}).status()));
}

class SeccompForTest : public ::testing::Test {
 protected:
  std::string WriteProfile(const std::string& text) {
    std::string path = temp_.path() + "/profile.json";
    std::ofstream(path) << text;
    return path;
  }
  absl::StatusOr<std::optional<json>> For() { return SeccompFor(security_, {"CAP_CHOWN"}); }

  TempDir temp_;
  v1::LinuxContainerSecurityContext security_;
};

TEST_F(SeccompForTest, NothingAskedIsUnconfined) {
  absl::StatusOr<std::optional<json>> got = For();
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->has_value());
  security_.set_seccomp_profile_path("unconfined");
  EXPECT_FALSE(For()->has_value());
  security_.mutable_seccomp()->set_profile_type(v1::SecurityProfile::Unconfined);
  EXPECT_FALSE(For()->has_value());
}

TEST_F(SeccompForTest, RuntimeDefaultInEitherField) {
  for (const char* legacy : {"runtime/default", "docker/default"}) {
    security_.set_seccomp_profile_path(legacy);
    ASSERT_TRUE(For().ok());
    EXPECT_EQ((**For())["defaultAction"], "SCMP_ACT_ERRNO") << legacy;
  }
  security_.clear_seccomp_profile_path();
  security_.mutable_seccomp()->set_profile_type(v1::SecurityProfile::RuntimeDefault);
  EXPECT_EQ((**For())["defaultAction"], "SCMP_ACT_ERRNO");
}

TEST_F(SeccompForTest, TheNewFieldWinsOverTheDeprecatedOne) {
  security_.set_seccomp_profile_path("runtime/default");
  security_.mutable_seccomp()->set_profile_type(v1::SecurityProfile::Unconfined);
  EXPECT_FALSE(For()->has_value());
}

TEST_F(SeccompForTest, LocalhostProfiles) {
  std::string path = WriteProfile(R"({"defaultAction": "SCMP_ACT_ALLOW",
      "syscalls": [{"names": ["sethostname"], "action": "SCMP_ACT_ERRNO"}]})");
  security_.mutable_seccomp()->set_profile_type(v1::SecurityProfile::Localhost);
  security_.mutable_seccomp()->set_localhost_ref(path);
  absl::StatusOr<std::optional<json>> got = For();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((**got)["defaultAction"], "SCMP_ACT_ALLOW");
  EXPECT_EQ((**got)["syscalls"][0]["names"], json::array({"sethostname"}));

  security_.clear_seccomp();
  security_.set_seccomp_profile_path("localhost/" + path);
  EXPECT_EQ((**For())["defaultAction"], "SCMP_ACT_ALLOW");
}

TEST_F(SeccompForTest, RefusalsNameWhatIsWrong) {
  std::string path = WriteProfile(R"({"defaultAction": "SCMP_ACT_ALLOW"})");
  security_.set_seccomp_profile_path(path);  // no localhost/ prefix
  EXPECT_TRUE(absl::IsInvalidArgument(For().status()));
  EXPECT_THAT(For().status().message(), HasSubstr("localhost/<absolute path>"));

  security_.mutable_seccomp()->set_profile_type(v1::SecurityProfile::Localhost);
  security_.mutable_seccomp()->set_localhost_ref(temp_.path() + "/missing.json");
  EXPECT_TRUE(absl::IsNotFound(For().status()));
  EXPECT_THAT(For().status().message(), HasSubstr("missing.json"));

  security_.mutable_seccomp()->set_localhost_ref(WriteProfile("{not json"));
  EXPECT_THAT(For().status().message(), HasSubstr("is not JSON"));
  security_.mutable_seccomp()->set_localhost_ref("relative.json");
  EXPECT_THAT(For().status().message(), HasSubstr("not an absolute path"));
}

TEST_F(SeccompForTest, APrivilegedContainerGetsNoFilterWhateverItAsks) {
  security_.set_privileged(true);
  security_.mutable_seccomp()->set_profile_type(v1::SecurityProfile::Localhost);
  security_.mutable_seccomp()->set_localhost_ref(temp_.path() + "/missing.json");
  absl::StatusOr<std::optional<json>> got = For();
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->has_value());
}

}  // namespace
}  // namespace crisp::crispd
