// Pod sandboxes: a network namespace with the CNI network, and the pod's
// IPC and UTS namespaces, held either by bind mounts (Host::pinner: no
// process at all) or, when the pod's containers share a PID namespace
// (or no pinner is wired), by our static pause program as the infra
// process under runc, which then holds the PID namespace too. State machine:
//
//   RunPodSandbox ──► READY ──StopPodSandbox──► NOTREADY ──RemovePodSandbox──► (gone)
//                       └──────────────RemovePodSandbox (stops first)─────────────┘
//
// Stop and Remove are idempotent: an unknown ID is not an error, as the CRI
// asks ("must not return an error if all relevant resources have already
// been reclaimed" / "if the sandbox has already been removed").
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "reference_runtime/host/seams.h"
#include "reference_runtime/state/object_table.h"
#include "reference_runtime/events/event_bus.h"
#include "runtime/v1/api.pb.h"

namespace crisp::crispd {

struct SandboxOptions {
  std::string state_dir;       // sandboxes/<id>/ (bundle, files)
  std::string pause_binary;    // our static pause program
  EventBus* events = nullptr;  // where lifecycle events go (may be null); must outlive the manager
};

// What a sandbox's Stop or Remove asks of its containers.
enum class PodTeardown {
  kStop,    // "running containers ... must be forcibly terminated"
  kRemove,  // "... must be forcibly terminated and removed"
};

// What the container side needs to know of a sandbox.
struct SandboxInfo {
  std::string id;
  runtime::v1::PodSandboxConfig config;
  std::string dir;       // hostname, hosts, resolv.conf, shm
  std::string hostname;
  std::string handler;   // the CRI runtime handler: its containers use the same OCI runtime
  int infra_pid = 0;     // 0: no infra process (pinned namespaces)
  bool ready = false;
  std::string netns;     // the pod's network namespace (a bind mount); empty: the host's
  // The path of each namespace the pod's containers join, by OCI type
  // ("network", "ipc", "uts", "pid"): pins, the netns, or the infra's /proc/<pid>/ns/*.
  std::map<std::string, std::string> namespaces;
};

class SandboxManager {
 public:
  // `host` needs oci, network and mounter; they must outlive the manager.
  static absl::StatusOr<std::unique_ptr<SandboxManager>> Open(SandboxOptions options, Host host);

  absl::StatusOr<std::string> Run(const runtime::v1::PodSandboxConfig& config, const std::string& handler);
  absl::Status Stop(const std::string& id);
  absl::Status Remove(const std::string& id);
  absl::StatusOr<runtime::v1::PodSandboxStatusResponse> Status(const std::string& id, bool verbose);
  std::vector<runtime::v1::PodSandbox> List(const runtime::v1::PodSandboxFilter& filter);
  bool NetworkReady(std::string* why) const { return host_.network->Ready(why); }
  std::vector<std::string> Handlers() const { return host_.oci->Handlers(); }
  bool RecursiveReadOnly(const std::string& handler) const { return host_.oci->RecursiveReadOnly(handler); }
  absl::StatusOr<SandboxInfo> Info(const std::string& id);
  // Runs `fn` with the sandbox's Info while holding off its Stop and Remove
  // (they wait until `fn` returns), if it is READY and its infra process
  // alive; else NotFound or FailedPrecondition. For CreateContainer.
  absl::Status WhileReady(const std::string& id, absl::FunctionRef<absl::Status(const SandboxInfo&)> fn);

  // Called with the sandbox's full ID before it is stopped or removed,
  // while its lifecycle lock is held (so no container is created meanwhile).
  void SetContainerHook(std::function<void(const std::string&, PodTeardown)> hook) { container_hook_ = std::move(hook); }

 private:
  struct Sandbox {
    std::string id;
    runtime::v1::PodSandboxConfig config;
    std::string handler;
    runtime::v1::PodSandboxState state = runtime::v1::SANDBOX_NOTREADY;
    int64_t created_at = 0;
    std::string ip;
    std::string netns;  // path; empty for host network
    nlohmann::json port_mappings = nlohmann::json::array();
    bool creating = false;  // RunPodSandbox is still setting it up
    // The infra process, held by pidfd while this crispd is its parent
    // (not after a restart): reaped at stop, never confused with a new
    // process that takes its PID.
    std::shared_ptr<ProcessHandle> infra;
    std::map<std::string, std::string> pinned;  // OCI type -> bind mount, when there is no infra process
    bool infra_released = false;  // pins or infra container gone: a later stop has nothing to end
  };

  using SandboxEntry = Entry<Sandbox>;
  using EntryPtr = ObjectTable<Sandbox>::EntryPtr;

  SandboxManager(SandboxOptions options, Host host);
  absl::Status Load();
  absl::Status Save(const Sandbox& sandbox) const;
  std::string Dir(const std::string& id) const;
  // Sets up the network, the shared files and the infra process; fills
  // `sandbox` as it goes, so that a failure can be undone by StopInfra.
  absl::Status StartInfra(Sandbox& sandbox);
  // Ends the infra process and reclaims the network. Idempotent.
  absl::Status StopInfra(Sandbox& sandbox);
  void Publish(const std::string& id, runtime::v1::ContainerEventType type);
  absl::StatusOr<SandboxInfo> InfoOf(const SandboxEntry& entry) const ABSL_SHARED_LOCKS_REQUIRED(entry.mu);

  SandboxOptions options_;
  Host host_;
  std::function<void(const std::string&, PodTeardown)> container_hook_;
  ObjectTable<Sandbox> sandboxes_;
};

}  // namespace crisp::crispd
