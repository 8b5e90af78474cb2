// Containers: an overlay root from the image's layers, an OCI bundle built
// by BuildContainerSpec, runc for the lifecycle and conmon as the monitor
// (it writes the CRI log and the exit file). State machine:
//
//   CreateContainer ──► CREATED ──StartContainer──► RUNNING ──(exit, StopContainer)──► EXITED
//        RemoveContainer removes from any state (a running container is killed first)
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "reference_runtime/container/stats.h"
#include "reference_runtime/image/image_store.h"
#include "reference_runtime/sandbox/sandbox_manager.h"
#include "reference_runtime/state/object_table.h"
#include "runtime/v1/api.pb.h"

namespace crisp::crispd {

struct ContainerOptions {
  std::string state_dir;  // containers/<id>/, attach/
  std::string cgroup_root = "/sys/fs/cgroup";  // where stats are read
  std::string proc_root = "/proc";             // where a pod's network counters are read
  EventBus* events = nullptr;  // where lifecycle events go (may be null); must outlive the manager
  // Whether CreateContainer makes the directory of the container's log file
  // (false: the no-log-directory quirk, the kubelet makes it).
  bool make_log_directory = true;
};

class ContainerManager {
 public:
  // `host` needs oci, monitor and mounter; they must outlive the manager.
  static absl::StatusOr<std::unique_ptr<ContainerManager>> Open(ContainerOptions options, ImageCatalog& images,
                                                                SandboxManager& sandboxes, Host host);

  absl::StatusOr<std::string> Create(const std::string& sandbox_id, const runtime::v1::ContainerConfig& config);
  absl::Status Start(const std::string& id);
  absl::Status Stop(const std::string& id, int64_t timeout_seconds);
  absl::Status Remove(const std::string& id);
  // Sets a created or running container's limits through the OCI runtime and
  // keeps them as its config's (ContainerStatus.resources); FailedPrecondition
  // once it has exited. oom_score_adj is not changed.
  absl::Status UpdateResources(const std::string& id, const runtime::v1::LinuxContainerResources& resources);
  absl::StatusOr<runtime::v1::ContainerStatusResponse> Status(const std::string& id, bool verbose);
  std::vector<runtime::v1::Container> List(const runtime::v1::ContainerFilter& filter);
  // The command line that runs `cmd` in a running container, for a
  // streaming exec (in a terminal, with a `console_socket`); NotFound or
  // FailedPrecondition otherwise, and InvalidArgument for no command.
  absl::StatusOr<std::vector<std::string>> ExecArgv(const std::string& id, const std::vector<std::string>& cmd,
                                                    const std::string& console_socket = "");
  // Where a running container's stdio is served (its monitor's `attach`
  // socket and `ctl` FIFO are in `dir`), and whether it has a terminal.
  // FailedPrecondition for stdin the container was not created with.
  struct AttachPoint {
    std::string dir;
    bool tty = false;
  };
  absl::StatusOr<AttachPoint> Attach(const std::string& id, bool stdin);
  absl::StatusOr<runtime::v1::ExecSyncResponse> ExecSync(const std::string& id, const std::vector<std::string>& cmd,
                                                         int64_t timeout_seconds);

  // Refreshes every running container's record, so that an exit is noticed
  // (and published as an event) without anyone asking for the container.
  void NoticeExits();

  // Stats of one container (any state; CPU and memory only while its cgroup
  // exists), and of every running container the filter selects.
  absl::StatusOr<runtime::v1::ContainerStats> Stats(const std::string& id);
  std::vector<runtime::v1::ContainerStats> ListStats(const runtime::v1::ContainerStatsFilter& filter);
  // A pod's stats: its infra's and containers' cgroups summed, its network
  // (from the infra's netns), its containers' stats. NotFound when unknown.
  absl::StatusOr<runtime::v1::PodSandboxStats> PodStats(const std::string& sandbox_id);
  std::vector<runtime::v1::PodSandboxStats> ListPodStats(const runtime::v1::PodSandboxStatsFilter& filter);

  // Asks conmon to reopen the log file (after a rotation). Not running: an
  // error, and no new file is made.
  absl::Status ReopenLog(const std::string& id);

  // For the sandbox side: kill (kStop), or kill and remove (kRemove), a sandbox's containers.
  void ForSandbox(const std::string& sandbox_id, PodTeardown teardown);

 private:
  struct Container {
    std::string id;
    std::string sandbox_id;
    std::string handler;  // the sandbox's: which OCI runtime
    runtime::v1::ContainerConfig config;
    std::string image_id;
    std::string image_ref;
    runtime::v1::ContainerState state = runtime::v1::CONTAINER_CREATED;
    int64_t created_at = 0, started_at = 0, finished_at = 0;
    int32_t exit_code = 0;
    std::string reason, message;
    std::string log_path;
    int conmon_pid = 0;
    std::string cgroups_path;
    // Who its first process is (ContainerStatus.user), from its OCI spec:
    // set at create, read from the bundle once after a restart.
    std::optional<runtime::v1::LinuxContainerUser> user;
    // conmon, held by pidfd while this crispd is its parent (not after a
    // restart); reaped once the container has exited.
    std::shared_ptr<ProcessHandle> conmon;
  };

  using ContainerEntry = Entry<Container>;
  using EntryPtr = ObjectTable<Container>::EntryPtr;
  static constexpr absl::Duration kNoGrace = absl::ZeroDuration();

  ContainerManager(ContainerOptions options, ImageCatalog& images, SandboxManager& sandboxes, Host host);
  std::string Dir(const std::string& id) const;
  absl::Status Save(const Container& container) const;
  void Load();
  absl::StatusOr<std::string> CreateIn(const SandboxInfo& sandbox, const runtime::v1::ContainerConfig& config,
                                       const ImageRecord& image);
  // Prepares image volume `index` of a container being made in `dir`: the
  // image's files read-only (a read-only overlay of its layers), and
  // image_sub_path within them. Returns the directory to bind-mount.
  absl::StatusOr<std::string> MountImageVolume(const std::string& dir, int index, const ImageRecord& volume,
                                               const runtime::v1::Mount& mount);
  // The PID namespace of a container of the pod (pid mode TARGET).
  absl::StatusOr<std::string> TargetPidNamespace(const std::string& sandbox_id, const std::string& target_id);
  // Reads the exit file into a RUNNING record (and reaps conmon).
  void Refresh(Container& container);
  void Publish(const Container& container, runtime::v1::ContainerEventType type);
  bool Running(ContainerEntry& entry) ABSL_LOCKS_EXCLUDED(entry.mu);
  // SIGTERM, `grace`, then SIGKILL to every process; returns once it has exited.
  absl::Status Kill(ContainerEntry& entry, absl::Duration grace) ABSL_EXCLUSIVE_LOCKS_REQUIRED(entry.lifecycle)
      ABSL_LOCKS_EXCLUDED(entry.mu);
  // runc delete, the root's mount, conmon, the directory, the image pin.
  absl::Status Destroy(Container& container);
  absl::Status KillAndDestroy(ContainerEntry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(entry.lifecycle)
      ABSL_LOCKS_EXCLUDED(entry.mu);
  // Found, refreshed and RUNNING, else NotFound or FailedPrecondition.
  absl::StatusOr<EntryPtr> FindRunning(const std::string& id);

  runtime::v1::ContainerStats StatsOf(const Container& container);
  // Refreshed copies of every RUNNING container's record.
  std::vector<Container> RunningContainers();
  // Fills `cpu` (the rate from the last sample under `key`) and `memory`.
  void FillUsage(const std::string& key, const CgroupUsage& usage, int64_t now, runtime::v1::CpuUsage* cpu,
                 runtime::v1::MemoryUsage* memory);

  ContainerOptions options_;
  // The last CPU sample of each container, for usage_nano_cores.
  struct CpuSample {
    uint64_t usage_ns = 0;
    int64_t at_ns = 0;  // monotonic
  };
  absl::Mutex samples_mu_;
  std::map<std::string, CpuSample> samples_ ABSL_GUARDED_BY(samples_mu_);
  ImageCatalog& images_;
  SandboxManager& sandboxes_;
  Host host_;
  ObjectTable<Container> containers_;
};

}  // namespace crisp::crispd
