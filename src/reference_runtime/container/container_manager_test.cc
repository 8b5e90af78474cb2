// The container state machine, on fakes: create, start, stop (grace and
// kill), remove, their idempotent repeats, failures in the middle of
// CreateContainer (what is rolled back), the pod's teardown, recovery from
// records after a restart, and Status answering during a long stop.
#include "reference_runtime/container/container_manager.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "common/temp_dir.h"
#include "reference_runtime/host/fake_host.h"

namespace crisp::crispd {
namespace {

namespace fs = std::filesystem;
namespace v1 = runtime::v1;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class ContainerManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<TempDir> temp = TempDir::Make("crispd-container-test");
    ASSERT_TRUE(temp.ok()) << temp.status();
    temp_ = std::move(*temp);
    dir_ = temp_.path();
    std::ofstream(dir_ + "/pause") << "not a real pause";
    image_ = images_.Add("busybox:latest", {{"Cmd", {"sh"}}, {"Env", {"PATH=/bin"}}});
    Reopen();
    pod_config_.mutable_metadata()->set_name("pod");
    pod_config_.mutable_metadata()->set_namespace_("default");
    pod_config_.mutable_metadata()->set_uid("uid-pod");
    pod_config_.set_log_directory(dir_ + "/logs");
    absl::StatusOr<std::string> pod = sandboxes_->Run(pod_config_, "");
    ASSERT_TRUE(pod.ok()) << pod.status();
    pod_ = *pod;
  }
  void TearDown() override {
    containers_.reset();
    sandboxes_.reset();
  }
  void Reopen() {
    containers_.reset();
    sandboxes_.reset();
    auto sandboxes = SandboxManager::Open({dir_ + "/state", dir_ + "/pause"}, fake_.host());
    ASSERT_TRUE(sandboxes.ok()) << sandboxes.status();
    sandboxes_ = std::move(*sandboxes);
    auto containers = ContainerManager::Open({dir_ + "/state", dir_ + "/cgroup"}, images_, *sandboxes_, fake_.host());
    ASSERT_TRUE(containers.ok()) << containers.status();
    containers_ = std::move(*containers);
  }
  static v1::ContainerConfig Config(const std::string& name) {
    v1::ContainerConfig config;
    config.mutable_metadata()->set_name(name);
    config.mutable_image()->set_image("busybox:latest");
    config.add_command("sleep");
    config.add_command("3600");
    config.set_log_path(name + "/0.log");
    (*config.mutable_labels())["role"] = name;
    return config;
  }
  std::string CreateAndStart(const std::string& name) {
    absl::StatusOr<std::string> id = containers_->Create(pod_, Config(name));
    EXPECT_TRUE(id.ok()) << id.status();
    if (!id.ok()) return "";
    EXPECT_TRUE(containers_->Start(*id).ok());
    return *id;
  }
  v1::ContainerStatus StatusOf(const std::string& id) {
    absl::StatusOr<v1::ContainerStatusResponse> status = containers_->Status(id, false);
    EXPECT_TRUE(status.ok()) << status.status();
    return status.ok() ? status->status() : v1::ContainerStatus();
  }

  TempDir temp_;
  std::string dir_;
  FakeHost fake_;
  FakeImages images_;
  ImageRecord image_;
  std::unique_ptr<SandboxManager> sandboxes_;
  std::unique_ptr<ContainerManager> containers_;
  v1::PodSandboxConfig pod_config_;
  std::string pod_;
};

TEST_F(ContainerManagerTest, UpdateResourcesReachesTheRuntimeAndStatusUntilTheContainerExits) {
  v1::ContainerConfig config = Config("app");
  config.mutable_linux()->mutable_resources()->set_cpu_shares(256);
  config.mutable_linux()->mutable_resources()->set_oom_score_adj(30);
  absl::StatusOr<std::string> id = containers_->Create(pod_, config);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(StatusOf(*id).resources().linux().cpu_shares(), 256);

  v1::LinuxContainerResources update;
  update.set_cpu_shares(512);
  update.set_memory_limit_in_bytes(209715200);
  (*update.mutable_unified())["memory.high"] = "max";
  ASSERT_TRUE(containers_->UpdateResources(*id, update).ok());  // CREATED
  EXPECT_THAT(fake_.oci.calls(),
              Contains("update " + *id + R"( {"cpu":{"shares":512},"memory":{"limit":209715200},"unified":{"memory.high":"max"}})"));
  v1::ContainerStatus status = StatusOf(*id);
  EXPECT_EQ(status.resources().linux().cpu_shares(), 512);
  EXPECT_EQ(status.resources().linux().memory_limit_in_bytes(), 209715200);
  EXPECT_EQ(status.resources().linux().oom_score_adj(), 30);  // runc cannot change it

  ASSERT_TRUE(containers_->Start(*id).ok());
  fake_.oci.FailNext("update", absl::InternalError("runc update: invalid argument"));
  update.set_cpu_shares(1024);
  EXPECT_THAT(containers_->UpdateResources(*id, update).message(), HasSubstr("invalid argument"));
  EXPECT_EQ(StatusOf(*id).resources().linux().cpu_shares(), 512);  // a failed update changes nothing

  Reopen();  // kept in the record
  EXPECT_EQ(StatusOf(*id).resources().linux().cpu_shares(), 512);

  ASSERT_TRUE(containers_->Stop(*id, 0).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(containers_->UpdateResources(*id, update)));
  EXPECT_TRUE(absl::IsNotFound(containers_->UpdateResources("no-such-id", update)));
}

// The no-log-directory quirk: the log file's directory is the caller's to
// make (the kubelet makes it); without it, CreateContainer fails as conmon does.
TEST_F(ContainerManagerTest, WithoutMakingTheLogDirectoryCreateNeedsItToExist) {
  ContainerOptions options{dir_ + "/state", dir_ + "/cgroup"};
  options.make_log_directory = false;
  containers_.reset();
  auto containers = ContainerManager::Open(options, images_, *sandboxes_, fake_.host());
  ASSERT_TRUE(containers.ok()) << containers.status();
  containers_ = std::move(*containers);
  absl::StatusOr<std::string> refused = containers_->Create(pod_, Config("app"));
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr(dir_ + "/logs/app/0.log"));
  EXPECT_FALSE(fs::exists(dir_ + "/logs/app"));
  fs::create_directories(dir_ + "/logs/app");
  absl::StatusOr<std::string> id = containers_->Create(pod_, Config("app"));
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_TRUE(fs::exists(dir_ + "/logs/app/0.log"));
}

// Requests no kubelet sends (suites/robustness) are refused before
// anything is made.
TEST_F(ContainerManagerTest, HostileConfigsAreRefusedUpFront) {
  auto refused = [&](v1::ContainerConfig config, const std::string& why) {
    absl::StatusOr<std::string> id = containers_->Create(pod_, config);
    EXPECT_TRUE(absl::IsInvalidArgument(id.status()) || absl::IsNotFound(id.status())) << why << ": " << id.status();
    if (!id.ok()) {
      EXPECT_THAT(std::string(id.status().message()), HasSubstr(why));
    }
  };
  v1::ContainerConfig absolute = Config("abs");
  absolute.set_log_path("/tmp/escaped.log");
  refused(absolute, "is absolute");
  v1::ContainerConfig climbs = Config("climbs");
  climbs.set_log_path("climbs/../../escaped.log");
  refused(climbs, "climbs out");
  v1::ContainerConfig missing = Config("missing");
  missing.add_mounts()->set_host_path(dir_ + "/no-such-dir");
  missing.mutable_mounts(0)->set_container_path("/mnt");
  refused(missing, "does not exist");
  v1::ContainerConfig relative = Config("relative");
  relative.add_mounts()->set_host_path(dir_);
  relative.mutable_mounts(0)->set_container_path("mnt");
  refused(relative, "is not an absolute path");
  v1::ContainerConfig target = Config("target");
  target.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(v1::TARGET);
  target.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_target_id("no-such-container");
  refused(target, "is not a container of pod");
  EXPECT_THAT(containers_->List({}), IsEmpty());
  EXPECT_FALSE(fs::exists(dir_ + "/logs/climbs"));
}

// Image volumes: the image must be present, is pinned while used, is named
// by ID in the status, and is mounted read-only; what api.proto rules out
// is refused. Recursive read-only needs readonly, private propagation and
// a handler that can do it. ContainerStatus.user is the spec's user.
TEST_F(ContainerManagerTest, ImageVolumesRecursiveReadOnlyAndTheUser) {
  ImageRecord volume = images_.Add("volume:1", {{"Cmd", {"sh"}}});
  auto with_volume = [&](const std::string& name, bool readonly, const std::string& sub) {
    v1::ContainerConfig config = Config(name);
    v1::Mount* mount = config.add_mounts();
    mount->set_container_path("/mnt/volume");
    mount->mutable_image()->set_image("volume:1");
    mount->set_readonly(readonly);
    mount->set_image_sub_path(sub);
    return config;
  };
  v1::ContainerConfig config = with_volume("vol", true, "");
  config.mutable_linux()->mutable_security_context()->mutable_run_as_user()->set_value(1000);
  config.mutable_linux()->mutable_security_context()->add_supplemental_groups(1234);
  absl::StatusOr<std::string> id = containers_->Create(pod_, config);
  ASSERT_TRUE(id.ok()) << id.status();
  v1::ContainerStatus status = StatusOf(*id);
  ASSERT_EQ(status.mounts_size(), 1);
  EXPECT_EQ(status.mounts(0).image().image_ref(), volume.id);
  EXPECT_EQ(images_.pins(volume.id), 1);
  EXPECT_EQ(status.user().linux().uid(), 1000);
  EXPECT_THAT(status.user().linux().supplemental_groups(), Contains(1234));
  std::ifstream spec(dir_ + "/state/containers/" + *id + "/config.json");
  std::string text((std::istreambuf_iterator<char>(spec)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, HasSubstr("/image-volumes/0"));
  ASSERT_TRUE(containers_->Remove(*id).ok());
  EXPECT_EQ(images_.pins(volume.id), 0);

  auto refused = [&](const v1::ContainerConfig& bad, const std::string& why) {
    absl::StatusOr<std::string> made = containers_->Create(pod_, bad);
    ASSERT_FALSE(made.ok()) << why;
    EXPECT_THAT(std::string(made.status().message()), HasSubstr(why));
  };
  refused(with_volume("rw", false, ""), "image volumes are read-only");
  refused(with_volume("climbs", true, "../etc"), "is not a path inside the image");
  refused(with_volume("missing-sub", true, "no/such/dir"), "is not a directory in image");
  v1::ContainerConfig absent = with_volume("absent", true, "");
  absent.mutable_mounts(0)->mutable_image()->set_image("not-pulled:1");
  refused(absent, "is not present");
  EXPECT_EQ(images_.pins(volume.id), 0);
  EXPECT_EQ(images_.pins(image_.id), 0);
  v1::ContainerConfig taken = Config("vol-twice");
  ASSERT_TRUE(containers_->Create(pod_, taken).ok());
  refused(taken, "a container named vol-twice");  // the name is taken: Reserve fails, the pin is released
  EXPECT_EQ(images_.pins(image_.id), 1);

  v1::ContainerConfig rro = Config("rro");
  v1::Mount* mount = rro.add_mounts();
  mount->set_container_path("/mnt/ro");
  mount->set_host_path(dir_);
  mount->set_recursive_read_only(true);
  refused(rro, "needs readonly and PROPAGATION_PRIVATE");
  mount->set_readonly(true);
  absl::StatusOr<std::string> made = containers_->Create(pod_, rro);  // the default handler: runc, which can
  ASSERT_TRUE(made.ok()) << made.status();
  std::ifstream rro_spec(dir_ + "/state/containers/" + *made + "/config.json");
  std::string rro_text((std::istreambuf_iterator<char>(rro_spec)), std::istreambuf_iterator<char>());
  EXPECT_THAT(rro_text, HasSubstr("\"rro\""));
}

// ContainerStatus.user is kept with the container, and read back from its
// bundle after a restart (not from the bundle on every status).
TEST_F(ContainerManagerTest, TheUserOutlivesARestart) {
  v1::ContainerConfig config = Config("user");
  config.mutable_linux()->mutable_security_context()->mutable_run_as_user()->set_value(1000);
  config.mutable_linux()->mutable_security_context()->add_supplemental_groups(1234);
  absl::StatusOr<std::string> id = containers_->Create(pod_, config);
  ASSERT_TRUE(id.ok()) << id.status();
  Reopen();
  v1::ContainerStatus status = StatusOf(*id);
  EXPECT_EQ(status.user().linux().uid(), 1000);
  EXPECT_THAT(status.user().linux().supplemental_groups(), Contains(1234));
}

TEST_F(ContainerManagerTest, CreateStartStopRemove) {
  absl::StatusOr<std::string> id = containers_->Create(pod_, Config("app"));
  ASSERT_TRUE(id.ok()) << id.status();
  v1::ContainerStatus created = StatusOf(*id);
  EXPECT_EQ(created.state(), v1::CONTAINER_CREATED);
  EXPECT_EQ(created.image_id(), image_.id);
  EXPECT_EQ(created.image_ref(), image_.repo_digests[0]);
  EXPECT_EQ(created.log_path(), dir_ + "/logs/app/0.log");
  EXPECT_TRUE(fs::exists(dir_ + "/logs/app/0.log"));
  EXPECT_EQ(images_.pins(image_.id), 1);
  const std::string root = dir_ + "/state/containers/" + *id + "/rootfs";
  EXPECT_THAT(fake_.mounter.mounted(), Contains(root));
  // The spec joins the pod's namespaces through its infra process.
  std::ifstream spec(dir_ + "/state/containers/" + *id + "/config.json");
  std::string text((std::istreambuf_iterator<char>(spec)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, HasSubstr("/proc/100000/ns/"));

  ASSERT_TRUE(containers_->Start(*id).ok());
  EXPECT_EQ(StatusOf(*id).state(), v1::CONTAINER_RUNNING);
  EXPECT_GT(StatusOf(*id).started_at(), 0);

  ASSERT_TRUE(containers_->Stop(*id, 0).ok());
  v1::ContainerStatus exited = StatusOf(*id);
  EXPECT_EQ(exited.state(), v1::CONTAINER_EXITED);
  EXPECT_EQ(exited.exit_code(), 137);
  EXPECT_EQ(exited.reason(), "Error");
  EXPECT_GT(exited.finished_at(), 0);
  EXPECT_TRUE(fake_.monitor.ProcessOf(*id)->reaped()) << "conmon was left a zombie";

  ASSERT_TRUE(containers_->Remove(*id).ok());
  EXPECT_TRUE(absl::IsNotFound(containers_->Status(*id, false).status()));
  EXPECT_THAT(fake_.mounter.mounted(), ::testing::Not(Contains(root)));
  EXPECT_EQ(images_.pins(image_.id), 0);
  EXPECT_FALSE(fake_.oci.Has(*id));
  EXPECT_FALSE(fs::exists(dir_ + "/state/containers/" + *id));
}

TEST_F(ContainerManagerTest, AnExitOnItsOwnIsCompletedOrError) {
  std::string ok = CreateAndStart("ok");
  std::string bad = CreateAndStart("bad");
  fake_.oci.ExitOnItsOwn(ok, 0);
  fake_.oci.ExitOnItsOwn(bad, 3);
  EXPECT_EQ(StatusOf(ok).reason(), "Completed");
  EXPECT_EQ(StatusOf(bad).reason(), "Error");
  EXPECT_EQ(StatusOf(bad).exit_code(), 3);
}

TEST_F(ContainerManagerTest, StopSendsTermThenKillAfterTheGrace) {
  std::string polite = CreateAndStart("polite");
  ASSERT_TRUE(containers_->Stop(polite, 10).ok());
  EXPECT_EQ(StatusOf(polite).exit_code(), 128 + SIGTERM);
  std::string stubborn = CreateAndStart("stubborn");
  fake_.oci.IgnoreTerm(stubborn);
  ASSERT_TRUE(containers_->Stop(stubborn, 1).ok());
  EXPECT_EQ(StatusOf(stubborn).exit_code(), 128 + SIGKILL);
  std::vector<std::string> kills;
  for (const std::string& call : fake_.oci.calls()) {
    if (call.starts_with("kill " + stubborn)) kills.push_back(call);
  }
  EXPECT_THAT(kills, ElementsAre("kill " + stubborn + " 15", "kill " + stubborn + " 9 all"));
}

TEST_F(ContainerManagerTest, StopAndRemoveAreIdempotent) {
  std::string id = CreateAndStart("app");
  ASSERT_TRUE(containers_->Stop(id, 0).ok());
  EXPECT_TRUE(containers_->Stop(id, 0).ok());  // "must not return an error if the container has already been stopped"
  ASSERT_TRUE(containers_->Remove(id).ok());
  EXPECT_TRUE(containers_->Remove(id).ok());   // "must not return an error if the container has already been removed"
  EXPECT_TRUE(containers_->Stop(id, 0).ok());  // gone is stopped too
  EXPECT_TRUE(containers_->Stop("unknown", 0).ok());
  EXPECT_TRUE(containers_->Remove("unknown").ok());
}

TEST_F(ContainerManagerTest, RemoveKillsARunningContainer) {
  std::string id = CreateAndStart("app");
  ASSERT_TRUE(containers_->Remove(id).ok());
  EXPECT_FALSE(fake_.oci.Has(id));
  EXPECT_THAT(containers_->List({}), IsEmpty());
}

TEST_F(ContainerManagerTest, StartOnlyFromCreated) {
  std::string id = CreateAndStart("app");
  EXPECT_TRUE(absl::IsFailedPrecondition(containers_->Start(id)));
  EXPECT_TRUE(absl::IsNotFound(containers_->Start("unknown")));
}

TEST_F(ContainerManagerTest, NamesAreReservedPerPodUntilRemoved) {
  absl::StatusOr<std::string> first = containers_->Create(pod_, Config("app"));
  ASSERT_TRUE(first.ok());
  absl::StatusOr<std::string> again = containers_->Create(pod_, Config("app"));
  EXPECT_TRUE(absl::IsAlreadyExists(again.status())) << again.status();
  v1::ContainerConfig retry = Config("app");
  retry.mutable_metadata()->set_attempt(1);
  retry.set_log_path("app/1.log");
  EXPECT_TRUE(containers_->Create(pod_, retry).ok());
  ASSERT_TRUE(containers_->Remove(*first).ok());
  EXPECT_TRUE(containers_->Create(pod_, Config("app")).ok());
}

TEST_F(ContainerManagerTest, CreateNeedsAReadyPodAndAPresentImage) {
  v1::ContainerConfig unknown_image = Config("app");
  unknown_image.mutable_image()->set_image("nginx:latest");
  absl::StatusOr<std::string> no_image = containers_->Create(pod_, unknown_image);
  EXPECT_TRUE(absl::IsNotFound(no_image.status())) << no_image.status();
  EXPECT_THAT(no_image.status().message(), HasSubstr("pull it first"));
  EXPECT_TRUE(absl::IsNotFound(containers_->Create("no-such-pod", Config("app")).status()));
  v1::ContainerConfig nameless = Config("app");
  nameless.mutable_metadata()->clear_name();
  EXPECT_TRUE(absl::IsInvalidArgument(containers_->Create(pod_, nameless).status()));
  ASSERT_TRUE(sandboxes_->Stop(pod_).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(containers_->Create(pod_, Config("app")).status()));
  // The image is pinned as it is found; every refusal released it.
  EXPECT_EQ(images_.pins(image_.id), 0);
}

TEST_F(ContainerManagerTest, AFailedMonitorStartIsRolledBack) {
  fake_.monitor.FailNext(absl::InternalError("conmon: runc create failed"));
  absl::StatusOr<std::string> id = containers_->Create(pod_, Config("app"));
  ASSERT_FALSE(id.ok());
  EXPECT_THAT(id.status().message(), HasSubstr("runc create failed"));
  EXPECT_THAT(containers_->List({}), IsEmpty());
  EXPECT_EQ(images_.pins(image_.id), 0);
  EXPECT_FALSE(fs::exists(dir_ + "/logs/app/0.log")) << "a failed create must not leave a log file behind";
  for (const std::string& mount : fake_.mounter.mounted()) EXPECT_THAT(mount, ::testing::Not(HasSubstr("rootfs")));
  EXPECT_TRUE(fs::is_empty(dir_ + "/state/containers"));
  EXPECT_TRUE(containers_->Create(pod_, Config("app")).ok()) << "the name stayed reserved after a failed create";
}

TEST_F(ContainerManagerTest, AFailedRootMountIsRolledBack) {
  fake_.mounter.FailNext(absl::InternalError("mounting overlay: no such device"));
  absl::StatusOr<std::string> id = containers_->Create(pod_, Config("app"));
  ASSERT_FALSE(id.ok());
  EXPECT_THAT(containers_->List({}), IsEmpty());
  EXPECT_EQ(images_.pins(image_.id), 0);
  EXPECT_THAT(fake_.monitor.calls(), IsEmpty());
}

TEST_F(ContainerManagerTest, StoppingThePodKillsItsContainersAndRemovingRemovesThem) {
  std::string a = CreateAndStart("a");
  std::string b = CreateAndStart("b");
  ASSERT_TRUE(sandboxes_->Stop(pod_).ok());
  EXPECT_EQ(StatusOf(a).state(), v1::CONTAINER_EXITED);
  EXPECT_EQ(StatusOf(b).state(), v1::CONTAINER_EXITED);
  ASSERT_TRUE(sandboxes_->Remove(pod_).ok());
  EXPECT_THAT(containers_->List({}), IsEmpty());
  EXPECT_EQ(images_.pins(image_.id), 0);
}

// crispd killed in CreateContainer after the OCI create and before the
// record (e2e.crispd_faults, CreateContainer:monitor+create): no client
// knows the ID, so the restart removes what was made.
TEST_F(ContainerManagerTest, ARestartRemovesAContainerMadeButNeverRecorded) {
  absl::StatusOr<std::string> id = containers_->Create(pod_, Config("app"));
  ASSERT_TRUE(id.ok()) << id.status();
  const std::string dir = dir_ + "/state/containers/" + *id;
  ASSERT_TRUE(fs::remove(dir + "/container.json"));  // as if crispd died before saving it
  Reopen();
  EXPECT_FALSE(fs::exists(dir));
  EXPECT_THAT(fake_.oci.calls(), Contains("delete " + *id));
  EXPECT_THAT(fake_.mounter.mounted(), ::testing::Not(Contains(dir + "/rootfs")));
  EXPECT_THAT(containers_->List({}), IsEmpty());
}

TEST_F(ContainerManagerTest, ARestartRecoversContainersAndReadsExitsThatCameMeanwhile) {
  std::string running = CreateAndStart("running");
  std::string created = containers_->Create(pod_, Config("created")).value();
  Reopen();
  EXPECT_EQ(StatusOf(running).state(), v1::CONTAINER_RUNNING);
  EXPECT_EQ(StatusOf(created).state(), v1::CONTAINER_CREATED);
  EXPECT_EQ(images_.pins(image_.id), 4) << "each recovered container pins its image again";
  fake_.oci.ExitOnItsOwn(running, 0);  // conmon outlived crispd and wrote the exit file
  EXPECT_EQ(StatusOf(running).state(), v1::CONTAINER_EXITED);
  EXPECT_EQ(StatusOf(running).reason(), "Completed");
  EXPECT_TRUE(absl::IsAlreadyExists(containers_->Create(pod_, Config("created")).status()));
}

TEST_F(ContainerManagerTest, ExecSyncNeedsARunningContainer) {
  absl::StatusOr<std::string> created = containers_->Create(pod_, Config("app"));
  ASSERT_TRUE(created.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(containers_->ExecSync(*created, {"true"}, 0).status()));
  ASSERT_TRUE(containers_->Start(*created).ok());
  RunResult result;
  result.status = ExitStatus{3, 0};
  result.stdout_text = "out";
  result.stderr_text = "err";
  fake_.oci.SetExecResult(result);
  absl::StatusOr<v1::ExecSyncResponse> ran = containers_->ExecSync(*created, {"sh", "-c", "exit 3"}, 5);
  ASSERT_TRUE(ran.ok()) << ran.status();
  EXPECT_EQ(ran->exit_code(), 3);
  EXPECT_EQ(ran->stdout(), "out");
  EXPECT_EQ(ran->stderr(), "err");
  EXPECT_THAT(fake_.oci.calls(), Contains("exec " + *created + " sh timeout=5s"));
  result.timed_out = true;
  fake_.oci.SetExecResult(result);
  EXPECT_TRUE(absl::IsDeadlineExceeded(containers_->ExecSync(*created, {"sleep", "9"}, 1).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(containers_->ExecSync(*created, {}, 1).status()));
  EXPECT_TRUE(absl::IsNotFound(containers_->ExecSync("unknown", {"true"}, 1).status()));
}

TEST_F(ContainerManagerTest, ExecArgvAndReopenLogGoThroughTheSeams) {
  std::string id = CreateAndStart("app");
  absl::StatusOr<std::vector<std::string>> argv = containers_->ExecArgv(id, {"ls", "/"});
  ASSERT_TRUE(argv.ok()) << argv.status();
  EXPECT_THAT(*argv, ElementsAre("/fake/exec", id, "ls", "/"));
  const std::string log = dir_ + "/logs/app/0.log";
  fs::rename(log, log + ".1");  // rotated, as the kubelet does before it asks
  ASSERT_TRUE(containers_->ReopenLog(id).ok());
  EXPECT_THAT(fake_.monitor.calls(), Contains("reopen " + id));
  EXPECT_TRUE(fs::exists(log)) << "ReopenContainerLog answered before the monitor had made the new file";
  ASSERT_TRUE(containers_->Stop(id, 0).ok());
  // "Once it returns error, new container log file MUST NOT be created."
  EXPECT_TRUE(absl::IsFailedPrecondition(containers_->ReopenLog(id)));
}

TEST_F(ContainerManagerTest, ListFiltersByStatePodAndLabels) {
  std::string running = CreateAndStart("running");
  std::string created = containers_->Create(pod_, Config("created")).value();
  v1::ContainerFilter filter;
  EXPECT_EQ(containers_->List(filter).size(), 2u);
  filter.mutable_state()->set_state(v1::CONTAINER_RUNNING);
  ASSERT_EQ(containers_->List(filter).size(), 1u);
  EXPECT_EQ(containers_->List(filter)[0].id(), running);
  filter.Clear();
  (*filter.mutable_label_selector())["role"] = "created";
  ASSERT_EQ(containers_->List(filter).size(), 1u);
  EXPECT_EQ(containers_->List(filter)[0].id(), created);
  filter.Clear();
  filter.set_pod_sandbox_id("other");
  EXPECT_THAT(containers_->List(filter), IsEmpty());
}

TEST_F(ContainerManagerTest, StatsFromTheContainersCgroupAndWritableLayer) {
  std::string running = CreateAndStart("running");
  std::string created = containers_->Create(pod_, Config("created")).value();
  // The cgroup as runc would have made it, under the test's cgroup root.
  const std::string cgroup = dir_ + "/cgroup/cpuacct/crispd/" + running;
  fs::create_directories(cgroup);
  std::ofstream(cgroup + "/cpuacct.usage") << 1000000000;
  fs::create_directories(dir_ + "/cgroup/memory/crispd/" + running);
  std::ofstream(dir_ + "/cgroup/memory/crispd/" + running + "/memory.usage_in_bytes") << 4096;
  std::ofstream(dir_ + "/state/containers/" + running + "/upper/new-file") << "written";

  absl::StatusOr<v1::ContainerStats> stats = containers_->Stats(running);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->attributes().id(), running);
  EXPECT_EQ(stats->attributes().labels().at("role"), "running");
  EXPECT_EQ(stats->cpu().usage_core_nano_seconds().value(), 1000000000u);
  EXPECT_FALSE(stats->cpu().has_usage_nano_cores()) << "one sample gives no rate";
  EXPECT_EQ(stats->memory().working_set_bytes().value(), 4096u);
  EXPECT_GE(stats->writable_layer().inodes_used().value(), 2u);
  std::ofstream(cgroup + "/cpuacct.usage") << 1100000000;
  stats = containers_->Stats(running);
  ASSERT_TRUE(stats.ok());
  EXPECT_TRUE(stats->cpu().has_usage_nano_cores()) << "a second sample gives a rate";

  v1::ContainerStatsFilter filter;
  std::vector<v1::ContainerStats> listed = containers_->ListStats(filter);
  ASSERT_EQ(listed.size(), 1u) << "only running containers are listed";
  EXPECT_EQ(listed[0].attributes().id(), running);
  (*filter.mutable_label_selector())["role"] = "other";
  EXPECT_THAT(containers_->ListStats(filter), IsEmpty());
  EXPECT_TRUE(containers_->Stats(created).ok()) << "a created container has stats too (no CPU yet)";
  EXPECT_TRUE(absl::IsNotFound(containers_->Stats("unknown").status()));
}

TEST_F(ContainerManagerTest, PodStatsSumTheInfraAndRunningContainersAndListTheirStats) {
  std::string a = CreateAndStart("a");
  std::string created = containers_->Create(pod_, Config("created")).value();
  auto cpu = [&](const std::string& id, int ns) {
    fs::create_directories(dir_ + "/cgroup/cpuacct/crispd/" + id);
    std::ofstream(dir_ + "/cgroup/cpuacct/crispd/" + id + "/cpuacct.usage") << ns;
  };
  cpu(pod_, 100);  // the infra process's cgroup
  cpu(a, 1000);
  cpu(created, 7);  // not running: not the pod's usage
  absl::StatusOr<v1::PodSandboxStats> stats = containers_->PodStats(pod_);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->attributes().id(), pod_);
  EXPECT_EQ(stats->attributes().metadata().name(), "pod");
  EXPECT_EQ(stats->linux().cpu().usage_core_nano_seconds().value(), 1100u);
  ASSERT_EQ(stats->linux().containers_size(), 1);
  EXPECT_EQ(stats->linux().containers(0).attributes().id(), a);
  EXPECT_FALSE(stats->linux().has_network()) << "the fake infra has no /proc entry";

  v1::PodSandboxStatsFilter filter;
  EXPECT_EQ(containers_->ListPodStats(filter).size(), 1u);
  filter.set_id("other");
  EXPECT_THAT(containers_->ListPodStats(filter), IsEmpty());
  ASSERT_TRUE(sandboxes_->Stop(pod_).ok());
  EXPECT_THAT(containers_->ListPodStats({}), IsEmpty()) << "a stopped pod is not listed";
  EXPECT_TRUE(absl::IsNotFound(containers_->PodStats("unknown").status()));
}

TEST_F(ContainerManagerTest, StatusAndListAnswerWhileAStopWaitsOutItsGrace) {
  std::string id = CreateAndStart("stubborn");
  std::string other = CreateAndStart("other");
  fake_.oci.IgnoreTerm(id);
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    EXPECT_TRUE(containers_->Stop(id, 2).ok());
    stopped = true;
  });
  // Until the grace period ends the stop holds the container's lifecycle
  // lock; Status, List and another container's stop must not wait for it.
  while (fake_.oci.calls().back() != "kill " + id + " 15") std::this_thread::yield();
  EXPECT_EQ(StatusOf(id).state(), v1::CONTAINER_RUNNING);
  EXPECT_EQ(containers_->List({}).size(), 2u);
  EXPECT_TRUE(containers_->Stop(other, 0).ok());
  EXPECT_FALSE(stopped.load()) << "Status, List or the other stop waited for the grace period";
  stopper.join();
  EXPECT_EQ(StatusOf(id).state(), v1::CONTAINER_EXITED);
}

}  // namespace
}  // namespace crisp::crispd
