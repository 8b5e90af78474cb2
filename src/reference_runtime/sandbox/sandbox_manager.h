// Pod sandboxes: a network namespace with the CNI network, and our static
// pause program as the infra process under runc, holding the pod's IPC,
// UTS and PID namespaces. State machine:
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
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/subprocess.h"
#include "nlohmann/json.hpp"
#include "reference_runtime/sandbox/cni.h"
#include "reference_runtime/store/oci_runtimes.h"
#include "runtime/v1/api.pb.h"

namespace crisp::crispd {

struct SandboxOptions {
  std::string state_dir;       // sandboxes/<id>/ (bundle, files), oci/<runtime>/ (its state)
  std::string pause_binary;    // our static pause program
  CniConfig cni;
};

// What the container side needs to know of a sandbox.
struct SandboxInfo {
  std::string id;
  runtime::v1::PodSandboxConfig config;
  std::string dir;       // hostname, hosts, resolv.conf, shm
  std::string hostname;
  std::string handler;   // the CRI runtime handler: its containers use the same OCI runtime
  int infra_pid = 0;
  bool ready = false;
};

class SandboxManager {
 public:
  static absl::StatusOr<std::unique_ptr<SandboxManager>> Open(SandboxOptions options);

  absl::StatusOr<std::string> Run(const runtime::v1::PodSandboxConfig& config, const std::string& handler);
  absl::Status Stop(const std::string& id);
  absl::Status Remove(const std::string& id);
  absl::StatusOr<runtime::v1::PodSandboxStatusResponse> Status(const std::string& id, bool verbose);
  std::vector<runtime::v1::PodSandbox> List(const runtime::v1::PodSandboxFilter& filter);
  bool NetworkReady(std::string* why) const { return cni_.Ready(why); }
  const OciRuntimes& runtimes() const { return runtimes_; }
  absl::StatusOr<SandboxInfo> Info(const std::string& id);

  // Called (sandbox ID, remove?) before a sandbox is stopped (false) or
  // removed (true): its containers must be killed, or killed and removed.
  void SetContainerHook(std::function<void(const std::string&, bool)> hook) { container_hook_ = std::move(hook); }

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
    std::shared_ptr<AdoptedProcess> infra;
  };

  explicit SandboxManager(SandboxOptions options);
  absl::Status Load();
  absl::Status Save(const Sandbox& sandbox) const;
  std::string Dir(const std::string& id) const;
  std::vector<std::string> Runc(const Sandbox& sandbox, std::initializer_list<std::string> args) const;
  absl::Status StartInfra(Sandbox& sandbox);
  absl::Status StopLocked(Sandbox& sandbox);  // mutex_ held
  Sandbox* Find(const std::string& id);       // exact or unique prefix; mutex_ held
  // Kills (and with `remove`, removes) the sandbox's containers; returns its
  // full ID, or "" when there is no such sandbox.
  std::string ReleaseContainers(const std::string& id, bool remove);

  SandboxOptions options_;
  OciRuntimes runtimes_;
  Cni cni_;
  std::function<void(const std::string&, bool)> container_hook_;
  std::mutex mutex_;
  std::map<std::string, Sandbox> sandboxes_;
};

}  // namespace crisp::crispd
