// The sandbox state machine, on fakes: every transition, every idempotent
// repeat, failures in the middle of RunPodSandbox (what is rolled back),
// recovery from records after a restart. No root, runc or network needed.
#include "reference_runtime/sandbox/sandbox_manager.h"

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "common/temp_dir.h"
#include "nlohmann/json.hpp"
#include "reference_runtime/host/fake_host.h"

namespace crisp::crispd {
namespace {

namespace fs = std::filesystem;
namespace v1 = runtime::v1;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class SandboxManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<TempDir> temp = TempDir::Make("crispd-sandbox-test");
    ASSERT_TRUE(temp.ok()) << temp.status();
    temp_ = std::move(*temp);
    dir_ = temp_.path();
    std::ofstream(dir_ + "/pause") << "not a real pause: the fake runtime runs nothing";
    Reopen();
  }
  void TearDown() override { manager_.reset(); }
  void Reopen() {
    manager_.reset();
    absl::StatusOr<std::unique_ptr<SandboxManager>> opened =
        SandboxManager::Open({dir_ + "/state", dir_ + "/pause"}, fake_.host());
    ASSERT_TRUE(opened.ok()) << opened.status();
    manager_ = std::move(*opened);
  }
  static v1::PodSandboxConfig Config(const std::string& name) {
    v1::PodSandboxConfig config;
    config.mutable_metadata()->set_name(name);
    config.mutable_metadata()->set_namespace_("default");
    config.mutable_metadata()->set_uid("uid-" + name);
    config.set_hostname(name);
    (*config.mutable_labels())["app"] = name;
    auto* mapping = config.add_port_mappings();
    mapping->set_container_port(80);
    mapping->set_host_port(8080);
    return config;
  }
  v1::PodSandboxState StateOf(const std::string& id) {
    absl::StatusOr<v1::PodSandboxStatusResponse> status = manager_->Status(id, false);
    EXPECT_TRUE(status.ok()) << status.status();
    return status.ok() ? status->status().state() : v1::SANDBOX_NOTREADY;
  }

  TempDir temp_;
  std::string dir_;
  FakeHost fake_;
  std::unique_ptr<SandboxManager> manager_;
};

TEST_F(SandboxManagerTest, RunMakesAReadySandboxWithItsNetworkAndShm) {
  absl::StatusOr<std::string> id = manager_->Run(Config("web"), "");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(StateOf(*id), v1::SANDBOX_READY);
  absl::StatusOr<v1::PodSandboxStatusResponse> status = manager_->Status(id->substr(0, 8), true);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->status().network().ip(), "10.0.0.2");
  EXPECT_THAT(status->info().at("info"), HasSubstr("/fake/netns/"));
  EXPECT_THAT(fake_.network.attached(), Contains(*id));
  EXPECT_THAT(fake_.network.calls(), Contains("setup " + *id + " ports=1"));
  EXPECT_THAT(fake_.mounter.mounted(), Contains(dir_ + "/state/sandboxes/" + *id + "/shm"));
  EXPECT_EQ(fake_.oci.StateOf(*id), "running");
  absl::StatusOr<SandboxInfo> info = manager_->Info(*id);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_TRUE(info->ready);
  EXPECT_GE(info->infra_pid, 100000);
  EXPECT_EQ(info->hostname, "web");
  std::ifstream hosts(info->dir + "/hosts");
  std::string text((std::istreambuf_iterator<char>(hosts)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, HasSubstr("10.0.0.2\tweb"));
}

// The kubelet's default pod (pid CONTAINER): its namespaces are pinned, and
// no infra process or OCI container exists at all.
TEST_F(SandboxManagerTest, APodWithoutASharedPidNamespaceIsPinnedNotRun) {
  v1::PodSandboxConfig config = Config("web");
  config.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(v1::CONTAINER);
  (*config.mutable_linux()->mutable_sysctls())["net.ipv4.ip_unprivileged_port_start"] = "0";
  absl::StatusOr<std::string> id = manager_->Run(config, "");
  ASSERT_TRUE(id.ok()) << id.status();
  const std::string dir = dir_ + "/state/sandboxes/" + *id;
  EXPECT_FALSE(fake_.oci.Has(*id));
  EXPECT_THAT(fake_.oci.calls(), IsEmpty());
  std::map<std::string, NamespacePinner::Request> pinned = fake_.pinner.pinned();
  ASSERT_EQ(pinned.count(dir), 1u);
  const NamespacePinner::Request& request = pinned.at(dir);
  EXPECT_TRUE(request.ipc);
  EXPECT_EQ(request.hostname, "web");
  EXPECT_EQ(request.netns, "/fake/netns/" + id->substr(0, 16));
  EXPECT_EQ(request.sysctls.at("net.ipv4.ip_unprivileged_port_start"), "0");
  EXPECT_EQ(request.cgroup, "/crispd/" + *id);
  EXPECT_FALSE(fs::exists(dir + "/rootfs")) << "no infra, no root for one";

  absl::StatusOr<SandboxInfo> info = manager_->Info(*id);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_TRUE(info->ready);
  EXPECT_EQ(info->infra_pid, 0);
  const std::map<std::string, std::string> expected = {
      {"network", "/fake/netns/" + id->substr(0, 16)}, {"ipc", dir + "/ns/ipc"}, {"uts", dir + "/ns/uts"}};
  EXPECT_EQ(info->namespaces, expected);

  Reopen();  // the pins are in the record
  info = manager_->Info(*id);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->namespaces, expected);

  ASSERT_TRUE(manager_->Stop(*id).ok());
  EXPECT_THAT(fake_.pinner.pinned(), IsEmpty());
  EXPECT_THAT(fake_.pinner.calls(), Contains("unpin " + dir + " /crispd/" + *id));
  EXPECT_THAT(fake_.network.attached(), IsEmpty());
  ASSERT_TRUE(manager_->Remove(*id).ok());
  EXPECT_THAT(fake_.oci.calls(), IsEmpty()) << "nothing of an OCI runtime was asked, not even at removal";
  EXPECT_FALSE(fs::exists(dir));
}

// crispd died after pinning and before the record named the pins: the
// next stop still releases them, and asks the OCI runtime too.
TEST_F(SandboxManagerTest, PinsTheRecordDoesNotNameYetAreReleasedAtStop) {
  v1::PodSandboxConfig config = Config("web");
  config.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(v1::CONTAINER);
  absl::StatusOr<std::string> id = manager_->Run(config, "");
  ASSERT_TRUE(id.ok()) << id.status();
  const std::string dir = dir_ + "/state/sandboxes/" + *id;
  std::ifstream in(dir + "/sandbox.json");
  nlohmann::json record = nlohmann::json::parse(in);
  in.close();
  ASSERT_TRUE(record.contains("pinnedNamespaces")) << record.dump();
  record.erase("pinnedNamespaces");
  std::ofstream(dir + "/sandbox.json") << record.dump();
  Reopen();
  ASSERT_TRUE(manager_->Stop(*id).ok());
  EXPECT_THAT(fake_.pinner.calls(), Contains("unpin " + dir + " /crispd/" + *id));
  EXPECT_THAT(fake_.pinner.pinned(), IsEmpty());
  ASSERT_TRUE(manager_->Remove(*id).ok());
  EXPECT_FALSE(fs::exists(dir));
}

TEST_F(SandboxManagerTest, ASharedPidNamespaceKeepsTheInfraProcess) {
  v1::PodSandboxConfig config = Config("web");
  config.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(v1::POD);
  absl::StatusOr<std::string> id = manager_->Run(config, "");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(fake_.oci.StateOf(*id), "running");
  EXPECT_THAT(fake_.pinner.calls(), IsEmpty());
  absl::StatusOr<SandboxInfo> info = manager_->Info(*id);
  ASSERT_TRUE(info.ok()) << info.status();
  const std::string proc = "/proc/" + std::to_string(info->infra_pid) + "/ns/";
  EXPECT_EQ(info->namespaces.at("pid"), proc + "pid");
  EXPECT_EQ(info->namespaces.at("ipc"), proc + "ipc");
  EXPECT_EQ(info->namespaces.at("uts"), proc + "uts");
  EXPECT_EQ(info->namespaces.at("network"), "/fake/netns/" + id->substr(0, 16));
}

TEST_F(SandboxManagerTest, ThePodsOwnIpcNamespaceIsPinnedOnlyWhenItHasOne) {
  v1::PodSandboxConfig config = Config("web");
  auto* modes = config.mutable_linux()->mutable_security_context()->mutable_namespace_options();
  modes->set_pid(v1::CONTAINER);
  modes->set_ipc(v1::NODE);
  modes->set_network(v1::NODE);
  absl::StatusOr<std::string> id = manager_->Run(config, "");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_FALSE(fake_.pinner.pinned().begin()->second.ipc);
  EXPECT_EQ(fake_.pinner.pinned().begin()->second.netns, "");
  absl::StatusOr<SandboxInfo> info = manager_->Info(*id);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->namespaces.size(), 1u);
  EXPECT_EQ(info->namespaces.count("uts"), 1u);
}

TEST_F(SandboxManagerTest, AFailedPinIsRolledBack) {
  v1::PodSandboxConfig config = Config("web");
  config.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(v1::CONTAINER);
  fake_.pinner.FailNext(absl::InvalidArgumentError("sysctl net.x: no such file"));
  absl::StatusOr<std::string> id = manager_->Run(config, "");
  ASSERT_FALSE(id.ok());
  EXPECT_THAT(std::string(id.status().message()), HasSubstr("sysctl net.x"));
  EXPECT_THAT(fake_.network.attached(), IsEmpty());
  EXPECT_TRUE(manager_->Run(config, "").ok()) << "the name stayed reserved after a failed run";
}

TEST_F(SandboxManagerTest, WithoutAPinnerEveryPodHasAnInfraProcess) {
  manager_.reset();
  absl::StatusOr<std::unique_ptr<SandboxManager>> opened =
      SandboxManager::Open({dir_ + "/state", dir_ + "/pause"}, fake_.host_without_pins());
  ASSERT_TRUE(opened.ok()) << opened.status();
  manager_ = std::move(*opened);
  v1::PodSandboxConfig config = Config("web");
  config.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(v1::CONTAINER);
  absl::StatusOr<std::string> id = manager_->Run(config, "");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(fake_.oci.StateOf(*id), "running");
  EXPECT_THAT(fake_.pinner.calls(), IsEmpty());
}

TEST_F(SandboxManagerTest, NamesAreReservedUntilRemoved) {
  absl::StatusOr<std::string> first = manager_->Run(Config("web"), "");
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<std::string> second = manager_->Run(Config("web"), "");
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(absl::IsAlreadyExists(second.status())) << second.status();
  EXPECT_THAT(second.status().message(), HasSubstr(*first));
  v1::PodSandboxConfig next_attempt = Config("web");
  next_attempt.mutable_metadata()->set_attempt(1);
  EXPECT_TRUE(manager_->Run(next_attempt, "").ok());
  ASSERT_TRUE(manager_->Remove(*first).ok());
  EXPECT_TRUE(manager_->Run(Config("web"), "").ok());
}

TEST_F(SandboxManagerTest, StopReclaimsOnceAndIsIdempotent) {
  absl::StatusOr<std::string> id = manager_->Run(Config("web"), "");
  ASSERT_TRUE(id.ok()) << id.status();
  ASSERT_TRUE(manager_->Stop(*id).ok());
  EXPECT_EQ(StateOf(*id), v1::SANDBOX_NOTREADY);
  EXPECT_THAT(fake_.network.attached(), IsEmpty());
  EXPECT_THAT(fake_.mounter.mounted(), IsEmpty());
  EXPECT_FALSE(fake_.oci.Has(*id));
  size_t calls = fake_.network.calls().size();
  ASSERT_TRUE(manager_->Stop(*id).ok());  // "must not return an error if all relevant resources have already been reclaimed"
  EXPECT_EQ(fake_.network.calls().size(), calls) << "a second stop tore the network down again";
  EXPECT_EQ(StateOf(*id), v1::SANDBOX_NOTREADY);
  ASSERT_TRUE(manager_->Remove(*id).ok());
  EXPECT_FALSE(manager_->Status(*id, false).ok());
  EXPECT_TRUE(manager_->Remove(*id).ok());  // "if the sandbox has already been removed"
  EXPECT_TRUE(manager_->Stop(*id).ok());
  EXPECT_FALSE(fs::exists(dir_ + "/state/sandboxes/" + *id));
}

TEST_F(SandboxManagerTest, UnknownIdsAreNotErrorsForStopAndRemoveButAreForStatus) {
  EXPECT_TRUE(manager_->Stop("no-such-sandbox").ok());
  EXPECT_TRUE(manager_->Remove("no-such-sandbox").ok());
  absl::StatusOr<v1::PodSandboxStatusResponse> status = manager_->Status("no-such-sandbox", false);
  EXPECT_TRUE(absl::IsNotFound(status.status())) << status.status();
}

TEST_F(SandboxManagerTest, RemoveOfAReadySandboxStopsItFirst) {
  absl::StatusOr<std::string> id = manager_->Run(Config("web"), "");
  ASSERT_TRUE(id.ok()) << id.status();
  ASSERT_TRUE(manager_->Remove(*id).ok());
  EXPECT_THAT(fake_.network.attached(), IsEmpty());
  EXPECT_FALSE(fake_.oci.Has(*id));
  EXPECT_THAT(manager_->List({}), IsEmpty());
}

TEST_F(SandboxManagerTest, AFailedNetworkSetupIsRolledBack) {
  fake_.network.FailNextSetup(absl::InternalError("CNI ADD failed"));
  absl::StatusOr<std::string> id = manager_->Run(Config("web"), "");
  ASSERT_FALSE(id.ok());
  EXPECT_THAT(id.status().message(), HasSubstr("CNI ADD failed"));
  EXPECT_THAT(manager_->List({}), IsEmpty());
  // The half-made network is torn down (CNI DEL tolerates what is missing).
  std::vector<std::string> calls = fake_.network.calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_THAT(calls[1], HasSubstr("teardown "));
  EXPECT_THAT(fake_.mounter.mounted(), IsEmpty());
  EXPECT_TRUE(fs::is_empty(dir_ + "/state/sandboxes"));
  EXPECT_TRUE(manager_->Run(Config("web"), "").ok()) << "the name stayed reserved after a failed run";
}

TEST_F(SandboxManagerTest, AFailedRuntimeCreateIsRolledBack) {
  fake_.oci.FailNext("create", absl::InternalError("runc create failed: no space"));
  absl::StatusOr<std::string> id = manager_->Run(Config("web"), "");
  ASSERT_FALSE(id.ok());
  EXPECT_THAT(id.status().message(), HasSubstr("no space"));
  EXPECT_THAT(fake_.network.attached(), IsEmpty());
  EXPECT_THAT(fake_.mounter.mounted(), IsEmpty());
  EXPECT_TRUE(fs::is_empty(dir_ + "/state/sandboxes"));
}

TEST_F(SandboxManagerTest, AFailedStartDeletesTheCreatedInfra) {
  fake_.oci.FailNext("start", absl::InternalError("runc start failed"));
  absl::StatusOr<std::string> id = manager_->Run(Config("web"), "");
  ASSERT_FALSE(id.ok());
  for (const std::string& call : fake_.oci.calls()) {
    if (absl::StartsWith(call, "create ")) {
      EXPECT_FALSE(fake_.oci.Has(call.substr(7))) << call;
    }
  }
  EXPECT_THAT(fake_.network.attached(), IsEmpty());
}

TEST_F(SandboxManagerTest, ATeardownFailureKeepsTheRecordForARetry) {
  absl::StatusOr<std::string> id = manager_->Run(Config("web"), "");
  ASSERT_TRUE(id.ok()) << id.status();
  fake_.network.FailNextTeardown(absl::InternalError("CNI DEL failed"));
  absl::Status removed = manager_->Remove(*id);
  ASSERT_FALSE(removed.ok());
  EXPECT_THAT(removed.message(), HasSubstr("again to retry"));
  EXPECT_TRUE(manager_->Status(*id, false).ok()) << "the record went with the network still there";
  ASSERT_TRUE(manager_->Remove(*id).ok());
  EXPECT_THAT(fake_.network.attached(), IsEmpty());
}

TEST_F(SandboxManagerTest, HostNetworkNeedsNoPodNetwork) {
  v1::PodSandboxConfig config = Config("host");
  config.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_network(v1::NODE);
  absl::StatusOr<std::string> id = manager_->Run(config, "");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_THAT(fake_.network.calls(), IsEmpty());
  ASSERT_TRUE(manager_->Remove(*id).ok());
  EXPECT_THAT(fake_.network.calls(), IsEmpty());
}

TEST_F(SandboxManagerTest, AnUnknownHandlerIsNotFoundAndReserveNothing) {
  absl::StatusOr<std::string> id = manager_->Run(Config("web"), "kata");
  ASSERT_FALSE(id.ok());
  EXPECT_TRUE(absl::IsNotFound(id.status())) << id.status();
  EXPECT_THAT(id.status().message(), HasSubstr("crun, runc"));
  EXPECT_TRUE(manager_->Run(Config("web"), "crun").ok());
}

TEST_F(SandboxManagerTest, MetadataIsRequired) {
  v1::PodSandboxConfig config = Config("web");
  config.mutable_metadata()->clear_uid();
  EXPECT_TRUE(absl::IsInvalidArgument(manager_->Run(config, "").status()));
}

TEST_F(SandboxManagerTest, ListFiltersByIdStateAndLabels) {
  absl::StatusOr<std::string> web = manager_->Run(Config("web"), "");
  absl::StatusOr<std::string> db = manager_->Run(Config("db"), "");
  ASSERT_TRUE(web.ok() && db.ok());
  ASSERT_TRUE(manager_->Stop(*db).ok());
  v1::PodSandboxFilter filter;
  EXPECT_EQ(manager_->List(filter).size(), 2u);
  filter.mutable_state()->set_state(v1::SANDBOX_READY);
  ASSERT_EQ(manager_->List(filter).size(), 1u);
  EXPECT_EQ(manager_->List(filter)[0].id(), *web);
  filter.Clear();
  (*filter.mutable_label_selector())["app"] = "db";
  ASSERT_EQ(manager_->List(filter).size(), 1u);
  EXPECT_EQ(manager_->List(filter)[0].id(), *db);
  filter.Clear();
  filter.set_id(web->substr(0, 10));
  ASSERT_EQ(manager_->List(filter).size(), 1u);
}

TEST_F(SandboxManagerTest, ARestartRecoversSandboxesFromTheirRecords) {
  absl::StatusOr<std::string> ready = manager_->Run(Config("web"), "");
  absl::StatusOr<std::string> stopped = manager_->Run(Config("db"), "");
  ASSERT_TRUE(ready.ok() && stopped.ok());
  ASSERT_TRUE(manager_->Stop(*stopped).ok());
  Reopen();
  EXPECT_EQ(StateOf(*ready), v1::SANDBOX_READY);
  EXPECT_EQ(StateOf(*stopped), v1::SANDBOX_NOTREADY);
  absl::StatusOr<v1::PodSandboxStatusResponse> status = manager_->Status(*ready, false);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->status().network().ip(), "10.0.0.2");
  EXPECT_EQ(status->status().labels().at("app"), "web");
  EXPECT_FALSE(manager_->Run(Config("web"), "").ok()) << "the name is still reserved after a restart";
  // The recovered record still names its network, so Stop can reclaim it.
  ASSERT_TRUE(manager_->Stop(*ready).ok());
  EXPECT_THAT(fake_.network.attached(), IsEmpty());
}

TEST_F(SandboxManagerTest, ACorruptRecordIsQuarantinedNotLoadedEmpty) {
  absl::StatusOr<std::string> good = manager_->Run(Config("web"), "");
  absl::StatusOr<std::string> bad = manager_->Run(Config("db"), "");
  ASSERT_TRUE(good.ok() && bad.ok());
  std::ofstream(dir_ + "/state/sandboxes/" + *bad + "/sandbox.json") << "{\"id\": ";  // cut short
  Reopen();
  std::vector<v1::PodSandbox> listed = manager_->List({});
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].id(), *good);
  EXPECT_TRUE(fs::exists(dir_ + "/state/quarantine/sandbox-" + *bad + "/sandbox.json"));
  EXPECT_FALSE(fs::exists(dir_ + "/state/sandboxes/" + *bad));
}

TEST_F(SandboxManagerTest, ACreateInAPodWhoseInfraDiedSaysSo) {
  absl::StatusOr<std::string> id = manager_->Run(Config("web"), "");
  ASSERT_TRUE(id.ok()) << id.status();
  fake_.oci.ExitOnItsOwn(*id, 2);
  bool ran = false;
  absl::Status status = manager_->WhileReady(*id, [&](const SandboxInfo&) {
    ran = true;
    return absl::OkStatus();
  });
  EXPECT_FALSE(ran);
  EXPECT_TRUE(absl::IsFailedPrecondition(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("exit code 2"));
}

TEST_F(SandboxManagerTest, WhileReadyRefusesAStoppedOrUnknownSandbox) {
  absl::StatusOr<std::string> id = manager_->Run(Config("web"), "");
  ASSERT_TRUE(id.ok()) << id.status();
  ASSERT_TRUE(manager_->Stop(*id).ok());
  auto nothing = [](const SandboxInfo&) { return absl::OkStatus(); };
  EXPECT_TRUE(absl::IsFailedPrecondition(manager_->WhileReady(*id, nothing)));
  EXPECT_TRUE(absl::IsNotFound(manager_->WhileReady("unknown", nothing)));
}

TEST_F(SandboxManagerTest, StopAsksTheContainerSideFirst) {
  std::vector<std::string> hook_calls;
  manager_->SetContainerHook([&](const std::string& id, PodTeardown teardown) {
    hook_calls.push_back((teardown == PodTeardown::kRemove ? "remove " : "stop ") + id);
  });
  absl::StatusOr<std::string> id = manager_->Run(Config("web"), "");
  ASSERT_TRUE(id.ok()) << id.status();
  ASSERT_TRUE(manager_->Stop(*id).ok());
  ASSERT_TRUE(manager_->Remove(*id).ok());
  EXPECT_EQ(hook_calls, (std::vector<std::string>{"stop " + *id, "remove " + *id}));
}

}  // namespace
}  // namespace crisp::crispd
