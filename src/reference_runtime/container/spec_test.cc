// Table tests of the pure spec builders: a container's args, env, user,
// capabilities, namespaces and mounts (BuildContainerSpec), and the infra
// process's config (InfraSpec).
#include "reference_runtime/container/spec.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "common/temp_dir.h"
#include "reference_runtime/sandbox/infra_spec.h"

// SeccompGoesIntoTheSpecOnlyWhenAsked sets the deprecated seccomp_profile_path.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace crisp::crispd {
namespace {

namespace fs = std::filesystem;
namespace v1 = runtime::v1;
using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

std::vector<std::string> Strings(const json& array) {
  std::vector<std::string> out;
  for (const json& item : array) out.push_back(item.get<std::string>());
  return out;
}

struct ArgsCase {
  std::string name;
  std::vector<std::string> command, args, entrypoint, cmd;
  std::vector<std::string> expected;  // empty: an error
};

TEST(ContainerArgsTest, CriCommandAndArgsOverTheImagesEntrypointAndCmd) {
  const std::vector<ArgsCase> cases = {
      {"image only", {}, {}, {"/entry"}, {"--cmd"}, {"/entry", "--cmd"}},
      {"command replaces both", {"/bin/sh"}, {}, {"/entry"}, {"--cmd"}, {"/bin/sh"}},
      {"command with args", {"/bin/sh"}, {"-c", "true"}, {"/entry"}, {"--cmd"}, {"/bin/sh", "-c", "true"}},
      {"args replace cmd only", {}, {"--other"}, {"/entry"}, {"--cmd"}, {"/entry", "--other"}},
      {"cmd without entrypoint", {}, {}, {}, {"redis-server"}, {"redis-server"}},
      {"args without entrypoint", {}, {"echo", "hi"}, {}, {"sh"}, {"echo", "hi"}},
      {"nothing at all", {}, {}, {}, {}, {}},
  };
  for (const ArgsCase& c : cases) {
    v1::ContainerConfig config;
    for (const auto& word : c.command) config.add_command(word);
    for (const auto& word : c.args) config.add_args(word);
    json image = {{"Entrypoint", c.entrypoint}, {"Cmd", c.cmd}};
    absl::StatusOr<std::vector<std::string>> args = ContainerArgs(config, image);
    if (c.expected.empty()) {
      EXPECT_TRUE(absl::IsInvalidArgument(args.status())) << c.name;
    } else {
      ASSERT_TRUE(args.ok()) << c.name << ": " << args.status();
      EXPECT_EQ(*args, c.expected) << c.name;
    }
  }
}

TEST(ContainerEnvTest, HostnameThenImageThenCriLaterKeysWin) {
  v1::ContainerConfig config;
  auto* env = config.add_envs();
  env->set_key("MODE");
  env->set_value("cri");
  env = config.add_envs();
  env->set_key("EXTRA");
  env->set_value("1");
  json image = {{"Env", {"PATH=/image/bin", "MODE=image", "EMPTY"}}};
  EXPECT_THAT(ContainerEnv(config, image, "pod-host"),
              ElementsAre("HOSTNAME=pod-host", "PATH=/image/bin", "MODE=cri", "EMPTY=", "EXTRA=1"));
}

TEST(ContainerEnvTest, ADefaultPathWhenTheImageHasNoneAndTermForATty) {
  v1::ContainerConfig config;
  config.set_tty(true);
  std::vector<std::string> env = ContainerEnv(config, json::object(), "h");
  EXPECT_THAT(env, ElementsAre("HOSTNAME=h", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                               "TERM=xterm"));
}

class BuildContainerSpecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<TempDir> temp = TempDir::Make("crispd-spec-test");
    ASSERT_TRUE(temp.ok()) << temp.status();
    temp_ = std::move(*temp);
    rootfs_ = temp_.path();
    fs::create_directories(rootfs_ + "/etc");
    std::ofstream(rootfs_ + "/etc/passwd") << "root:x:0:0:root:/root:/bin/sh\n"
                                              "app:x:1000:1000::/home/app:/bin/sh\n"
                                              "svc:x:1001:100::/:/bin/false\n";
    std::ofstream(rootfs_ + "/etc/group") << "root:x:0:\n"
                                             "users:x:100:\n"
                                             "app:x:1000:\n"
                                             "audio:x:29:app,svc\n"
                                             "video:x:44:svc\n"
                                             "staff:x:50:\n";
    config_.mutable_metadata()->set_name("c");
    config_.add_command("/bin/true");
    inputs_.config = &config_;
    inputs_.sandbox_config = &sandbox_;
    inputs_.image_config = json::object();
    inputs_.id = "cid";
    inputs_.sandbox_id = "sid";
    inputs_.rootfs = rootfs_;
    inputs_.sandbox_dir = "/sandbox";
    inputs_.namespaces = {{"network", "/proc/42/ns/net"}, {"ipc", "/proc/42/ns/ipc"}, {"uts", "/proc/42/ns/uts"},
                          {"pid", "/proc/42/ns/pid"}};
    inputs_.hostname = "host";
    inputs_.bounding_capabilities = {"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
                                     "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
                                     "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
                                     "CAP_SYS_ADMIN", "CAP_NET_ADMIN"};
  }
  json Build() {
    absl::StatusOr<json> spec = BuildContainerSpec(inputs_);
    EXPECT_TRUE(spec.ok()) << spec.status();
    return spec.ok() ? *spec : json();
  }
  v1::LinuxContainerSecurityContext* security() { return config_.mutable_linux()->mutable_security_context(); }

  TempDir temp_;
  std::string rootfs_;
  v1::ContainerConfig config_;
  v1::PodSandboxConfig sandbox_;
  SpecInputs inputs_;
};

TEST_F(BuildContainerSpecTest, UserResolution) {
  struct Case {
    std::string name;
    std::function<void(v1::LinuxContainerSecurityContext&, json&)> set;
    int64_t uid, gid;
    std::vector<int64_t> additional;
  };
  const std::vector<Case> cases = {
      {"default root", [](auto&, auto&) {}, 0, 0, {}},
      {"run_as_username", [](auto& s, auto&) { s.set_run_as_username("app"); }, 1000, 1000, {29}},
      {"run_as_user finds its gid", [](auto& s, auto&) { s.mutable_run_as_user()->set_value(1001); }, 1001, 100, {29, 44}},
      {"run_as_user unknown to passwd", [](auto& s, auto&) { s.mutable_run_as_user()->set_value(4242); }, 4242, 0, {}},
      {"run_as_group", [](auto& s, auto&) {
         s.mutable_run_as_user()->set_value(1000);
         s.mutable_run_as_group()->set_value(7);
       }, 1000, 7, {29}},
      {"image user and group by name", [](auto&, auto& image) { image["User"] = "app:staff"; }, 1000, 50, {29}},
      {"image user by number", [](auto&, auto& image) { image["User"] = "1001"; }, 1001, 100, {29, 44}},
      {"supplemental groups added", [](auto& s, auto&) {
         s.set_run_as_username("app");
         s.add_supplemental_groups(300);
       }, 1000, 1000, {29, 300}},
      {"Strict policy: only what the CRI gives", [](auto& s, auto&) {
         s.set_run_as_username("app");
         s.set_supplemental_groups_policy(v1::Strict);
         s.add_supplemental_groups(300);
       }, 1000, 1000, {300}},
  };
  for (const Case& c : cases) {
    config_.clear_linux();
    inputs_.image_config = json::object();
    c.set(*security(), inputs_.image_config);
    json user = Build()["process"]["user"];
    EXPECT_EQ(user.value("uid", -1), c.uid) << c.name;
    EXPECT_EQ(user.value("gid", -1), c.gid) << c.name;
    std::vector<int64_t> additional = user.value("additionalGids", std::vector<int64_t>{});
    EXPECT_EQ(additional, c.additional) << c.name;
  }
}

TEST_F(BuildContainerSpecTest, UnresolvableUsersAreInvalidArguments) {
  security()->set_run_as_username("nobody-here");
  EXPECT_THAT(BuildContainerSpec(inputs_).status().message(), HasSubstr("not in the image's /etc/passwd"));
  config_.clear_linux();
  inputs_.image_config = {{"User", "app:nogroup"}};
  EXPECT_TRUE(absl::IsInvalidArgument(BuildContainerSpec(inputs_).status()));
  config_.clear_linux();
  inputs_.image_config = json::object();
  security()->mutable_run_as_group()->set_value(5);
  EXPECT_THAT(BuildContainerSpec(inputs_).status().message(), HasSubstr("run_as_group is set without"));
}

TEST_F(BuildContainerSpecTest, Capabilities) {
  struct Case {
    std::string name;
    std::vector<std::string> add, drop;
    bool privileged;
    std::vector<std::string> present, absent;
  };
  const std::vector<Case> cases = {
      {"defaults", {}, {}, false, {"CAP_CHOWN", "CAP_KILL", "CAP_AUDIT_WRITE"}, {"CAP_SYS_ADMIN", "CAP_NET_ADMIN"}},
      {"add by short name", {"net_admin"}, {}, false, {"CAP_NET_ADMIN"}, {"CAP_SYS_ADMIN"}},
      {"drop", {}, {"CAP_CHOWN"}, false, {"CAP_KILL"}, {"CAP_CHOWN"}},
      {"add ALL", {"ALL"}, {}, false, {"CAP_SYS_ADMIN", "CAP_NET_ADMIN"}, {}},
      {"drop ALL then nothing", {}, {"ALL"}, false, {}, {"CAP_CHOWN", "CAP_KILL"}},
      {"privileged: the whole bounding set", {}, {"ALL"}, true, {"CAP_SYS_ADMIN", "CAP_CHOWN"}, {}},
      {"never beyond crispd's own", {"CAP_SYS_RESOURCE"}, {}, false, {"CAP_CHOWN"}, {"CAP_SYS_RESOURCE"}},
  };
  for (const Case& c : cases) {
    config_.clear_linux();
    for (const auto& cap : c.add) security()->mutable_capabilities()->add_add_capabilities(cap);
    for (const auto& cap : c.drop) security()->mutable_capabilities()->add_drop_capabilities(cap);
    security()->set_privileged(c.privileged);
    sandbox_.mutable_linux()->mutable_security_context()->set_privileged(c.privileged);
    json caps = Build()["process"]["capabilities"];
    std::vector<std::string> effective = Strings(caps["effective"]);
    EXPECT_EQ(Strings(caps["bounding"]), effective) << c.name;
    for (const auto& cap : c.present) EXPECT_THAT(effective, ::testing::Contains(cap)) << c.name;
    for (const auto& cap : c.absent) EXPECT_THAT(effective, ::testing::Not(::testing::Contains(cap))) << c.name;
  }
}

TEST_F(BuildContainerSpecTest, APrivilegedContainerNeedsAPrivilegedSandbox) {
  security()->set_privileged(true);
  EXPECT_THAT(BuildContainerSpec(inputs_).status().message(), HasSubstr("needs a privileged sandbox"));
  sandbox_.mutable_linux()->mutable_security_context()->set_privileged(true);
  EXPECT_TRUE(BuildContainerSpec(inputs_).ok());
}

TEST_F(BuildContainerSpecTest, SeccompGoesIntoTheSpecOnlyWhenAsked) {
  EXPECT_FALSE(Build()["linux"].contains("seccomp"));
  security()->mutable_seccomp()->set_profile_type(v1::SecurityProfile::RuntimeDefault);
  EXPECT_EQ(Build()["linux"]["seccomp"].value("defaultAction", ""), "SCMP_ACT_ERRNO");
  security()->set_seccomp_profile_path("not-a-form");
  security()->clear_seccomp();
  EXPECT_TRUE(absl::IsInvalidArgument(BuildContainerSpec(inputs_).status()));
}

TEST_F(BuildContainerSpecTest, Namespaces) {
  struct Case {
    std::string name;
    v1::NamespaceMode pod_network, pod_ipc, pod_pid, container_pid;
    std::map<std::string, std::string> namespaces;  // SandboxInfo::namespaces
    std::vector<std::string> expected;              // "type" or "type=path"
  };
  const std::map<std::string, std::string> infra = {{"network", "/proc/42/ns/net"}, {"ipc", "/proc/42/ns/ipc"},
                                                    {"uts", "/proc/42/ns/uts"}, {"pid", "/proc/42/ns/pid"}};
  const std::map<std::string, std::string> pinned = {
      {"network", "/var/run/netns/p"}, {"ipc", "/s/ns/ipc"}, {"uts", "/s/ns/uts"}};
  const std::vector<Case> cases = {
      {"kubelet default, infra process", v1::POD, v1::POD, v1::CONTAINER, v1::CONTAINER, infra,
       {"mount", "network=/proc/42/ns/net", "ipc=/proc/42/ns/ipc", "uts=/proc/42/ns/uts", "pid"}},
      {"kubelet default, pinned namespaces", v1::POD, v1::POD, v1::CONTAINER, v1::CONTAINER, pinned,
       {"mount", "network=/var/run/netns/p", "ipc=/s/ns/ipc", "uts=/s/ns/uts", "pid"}},
      {"a container asking for the pod's PID namespace where the pod keeps none", v1::POD, v1::POD, v1::CONTAINER,
       v1::POD, pinned, {"mount", "network=/var/run/netns/p", "ipc=/s/ns/ipc", "uts=/s/ns/uts", "pid"}},
      {"shared process namespace", v1::POD, v1::POD, v1::POD, v1::POD, infra,
       {"mount", "network=/proc/42/ns/net", "ipc=/proc/42/ns/ipc", "uts=/proc/42/ns/uts", "pid=/proc/42/ns/pid"}},
      {"host network, IPC and PID", v1::NODE, v1::NODE, v1::NODE, v1::NODE, {{"uts", "/s/ns/uts"}},
       {"mount", "uts=/s/ns/uts"}},
  };
  for (const Case& c : cases) {
    auto* pod = sandbox_.mutable_linux()->mutable_security_context()->mutable_namespace_options();
    pod->set_network(c.pod_network);
    pod->set_ipc(c.pod_ipc);
    pod->set_pid(c.pod_pid);
    security()->mutable_namespace_options()->set_pid(c.container_pid);
    inputs_.namespaces = c.namespaces;
    std::vector<std::string> got;
    const json spec = Build();  // kept: a range over a temporary's member would dangle
    for (const json& ns : spec["linux"]["namespaces"]) {
      got.push_back(ns.contains("path") ? ns["type"].get<std::string>() + "=" + ns["path"].get<std::string>()
                                        : ns["type"].get<std::string>());
    }
    EXPECT_EQ(got, c.expected) << c.name;
  }
}

TEST_F(BuildContainerSpecTest, APodNamespaceThatIsMissingIsAnError) {
  inputs_.namespaces.erase("uts");
  absl::StatusOr<json> spec = BuildContainerSpec(inputs_);
  EXPECT_TRUE(absl::IsFailedPrecondition(spec.status())) << spec.status();
}

TEST_F(BuildContainerSpecTest, MountsInOrderWithCriMountsReplacingDefaults) {
  auto* hosts = config_.add_mounts();
  hosts->set_container_path("/etc/hosts");
  hosts->set_host_path("/my/hosts");
  hosts->set_readonly(true);
  auto* data = config_.add_mounts();
  data->set_container_path("/data");
  data->set_host_path("/host/data");
  data->set_propagation(v1::PROPAGATION_BIDIRECTIONAL);
  auto* cache = config_.add_mounts();
  cache->set_container_path("/cache");
  cache->set_host_path("/host/cache");
  cache->set_propagation(v1::PROPAGATION_HOST_TO_CONTAINER);
  json mounts = Build()["mounts"];
  std::vector<std::string> destinations;
  for (const json& m : mounts) destinations.push_back(m["destination"]);
  EXPECT_THAT(destinations, ElementsAreArray({"/proc", "/dev", "/sys", "/dev/pts", "/dev/mqueue", "/sys/fs/cgroup",
                                              "/etc/hostname", "/etc/resolv.conf", "/dev/shm", "/etc/hosts", "/data",
                                              "/cache"}));
  EXPECT_EQ(mounts[9]["source"], "/my/hosts");
  EXPECT_THAT(Strings(mounts[9]["options"]), ElementsAre("rbind", "rprivate", "ro"));
  EXPECT_THAT(Strings(mounts[10]["options"]), ElementsAre("rbind", "rshared", "rw"));
  EXPECT_THAT(Strings(mounts[11]["options"]), ElementsAre("rbind", "rslave", "rw"));
  // The root must let the bidirectional mount's events out.
  EXPECT_EQ(Build()["linux"]["rootfsPropagation"], "rshared");
  config_.mutable_mounts()->DeleteSubrange(1, 1);
  EXPECT_EQ(Build()["linux"]["rootfsPropagation"], "rslave");
  config_.mutable_mounts()->DeleteSubrange(1, 1);
  EXPECT_FALSE(Build()["linux"].contains("rootfsPropagation"));
}

TEST_F(BuildContainerSpecTest, ReadonlyRootfsMakesThePodFilesReadOnlyToo) {
  security()->set_readonly_rootfs(true);
  json spec = Build();
  EXPECT_TRUE(spec["root"]["readonly"].get<bool>());
  int checked = 0;
  for (const json& m : spec["mounts"]) {
    if (m["destination"] != "/etc/hostname") continue;
    EXPECT_THAT(Strings(m["options"]), ::testing::Contains("ro"));
    ++checked;
  }
  EXPECT_EQ(checked, 1);
}

TEST_F(BuildContainerSpecTest, ResourcesCgroupAndOomScoreAdj) {
  auto* resources = config_.mutable_linux()->mutable_resources();
  resources->set_cpu_shares(512);
  resources->set_cpu_quota(50000);
  resources->set_memory_limit_in_bytes(1 << 28);
  resources->set_oom_score_adj(-900);
  inputs_.min_oom_score_adj = -500;
  json spec = Build();
  EXPECT_EQ(spec["linux"]["resources"]["cpu"]["shares"], 512);
  EXPECT_EQ(spec["linux"]["resources"]["memory"]["limit"], 1 << 28);
  EXPECT_EQ(spec["process"]["oomScoreAdj"], -500) << "never below crispd's own";
  EXPECT_EQ(spec["linux"]["cgroupsPath"], "/crispd/cid");
  sandbox_.mutable_linux()->set_cgroup_parent("/kubepods/pod1");
  EXPECT_EQ(Build()["linux"]["cgroupsPath"], "/kubepods/pod1/cid");
}

TEST_F(BuildContainerSpecTest, WorkingDirAndAnnotations) {
  inputs_.image_config = {{"WorkingDir", "/srv"}};
  (*config_.mutable_annotations())["team"] = "a";
  json spec = Build();
  EXPECT_EQ(spec["process"]["cwd"], "/srv");
  EXPECT_EQ(spec["annotations"]["team"], "a");
  EXPECT_EQ(spec["annotations"]["io.kubernetes.cri.sandbox-id"], "sid");
  config_.set_working_dir("/work");
  EXPECT_EQ(Build()["process"]["cwd"], "/work");
}

TEST(InfraSpecTest, NamespacesShmAndCgroupFollowThePodConfig) {
  v1::PodSandboxConfig config;
  config.set_hostname("pod");
  json spec = InfraSpec(config, "/var/run/netns/x", "/state/x/shm", "sid", -998);
  std::vector<std::string> namespaces;
  for (const json& ns : spec["linux"]["namespaces"]) namespaces.push_back(ns["type"]);
  EXPECT_THAT(namespaces, ElementsAre("mount", "uts", "ipc", "pid", "network"));
  EXPECT_EQ(spec["linux"]["namespaces"][4]["path"], "/var/run/netns/x");
  EXPECT_EQ(spec["mounts"].back()["destination"], "/dev/shm");
  EXPECT_EQ(spec["linux"]["cgroupsPath"], "/crispd/sid");
  EXPECT_EQ(spec["process"]["oomScoreAdj"], -998);
  EXPECT_TRUE(spec["root"]["readonly"].get<bool>());
  EXPECT_TRUE(spec["process"]["capabilities"]["effective"].empty());
  EXPECT_EQ(spec["process"]["user"]["uid"], 65535);

  auto* host = config.mutable_linux()->mutable_security_context()->mutable_namespace_options();
  host->set_ipc(v1::NODE);
  host->set_pid(v1::NODE);
  config.mutable_linux()->set_cgroup_parent("/kubepods/p");
  spec = InfraSpec(config, "", "", "sid", 0);
  namespaces.clear();
  for (const json& ns : spec["linux"]["namespaces"]) namespaces.push_back(ns["type"]);
  EXPECT_THAT(namespaces, ElementsAre("mount", "uts"));
  EXPECT_NE(spec["mounts"].back()["destination"], "/dev/shm");
  EXPECT_EQ(spec["linux"]["cgroupsPath"], "/kubepods/p/sid");
}

TEST(PodSysctlsTest, NamespacedSysctlsAreTakenAndGoIntoTheInfraSpec) {
  v1::PodSandboxConfig config;
  auto& sysctls = *config.mutable_linux()->mutable_sysctls();
  sysctls["kernel.shm_rmid_forced"] = "1";
  sysctls["fs.mqueue.msg_max"] = "100";
  sysctls["net/ipv4/conf/eth0.100/forwarding"] = "1";
  sysctls["kernel.sem"] = "250 32000 32 128";
  absl::StatusOr<std::map<std::string, std::string>> got = PodSysctls(config);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, (std::map<std::string, std::string>{{"fs.mqueue.msg_max", "100"},
                                                      {"kernel.sem", "250 32000 32 128"},
                                                      {"kernel.shm_rmid_forced", "1"},
                                                      {"net.ipv4.conf.eth0/100.forwarding", "1"}}));
  json spec = InfraSpec(config, "/var/run/netns/x", "/shm", "sid", 0, *got);
  EXPECT_EQ(spec["linux"]["sysctl"]["kernel.shm_rmid_forced"], "1");
}

TEST(PodSysctlsTest, WhatWouldChangeTheNodeOrIsMalformedIsRefused) {
  struct Case {
    std::string key, value;
    v1::NamespaceMode ipc, network;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"vm.swappiness", "10", v1::POD, v1::POD, "not namespaced"},
      {"kernel.pid_max", "4096", v1::POD, v1::POD, "not namespaced"},
      {"kernel.shmmax", "1", v1::NODE, v1::POD, "IPC namespace"},
      {"net.ipv4.ip_forward", "1", v1::POD, v1::NODE, "network namespace"},
      {"net.ipv4.ip_forward; reboot", "1", v1::POD, v1::POD, "not a sysctl name"},
      {"../../etc/passwd", "1", v1::POD, v1::POD, "not a sysctl name"},
      {"", "1", v1::POD, v1::POD, "not a sysctl name"},
      {"kernel.shmmax", "1\nkernel.pid_max=1", v1::POD, v1::POD, "newline"},
  };
  for (const Case& c : cases) {
    v1::PodSandboxConfig config;
    (*config.mutable_linux()->mutable_sysctls())[c.key] = c.value;
    auto* ns = config.mutable_linux()->mutable_security_context()->mutable_namespace_options();
    ns->set_ipc(c.ipc);
    ns->set_network(c.network);
    absl::Status status = PodSysctls(config).status();
    EXPECT_TRUE(absl::IsInvalidArgument(status)) << c.key;
    EXPECT_THAT(status.message(), HasSubstr(c.message)) << c.key;
  }
}

}  // namespace
}  // namespace crisp::crispd
