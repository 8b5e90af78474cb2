// The real side of crispd's seams: runc or crun by handler, CNI plugins and
// `ip netns`, conmon, mount(2). Wired by main().
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "reference_runtime/host/seams.h"
#include "reference_runtime/sandbox/cni.h"

namespace crisp::crispd {

// An adopted process (infra, conmon) held by pidfd.
class AdoptedHandle : public ProcessHandle {
 public:
  // Null when the process is already gone.
  static std::shared_ptr<ProcessHandle> Open(int pid);
  explicit AdoptedHandle(AdoptedProcess process) : process_(std::move(process)) {}
  int pid() const override { return process_.pid(); }
  bool HasExited() const override { return process_.HasExited(); }
  std::optional<ExitStatus> PeekExit() const override { return process_.PeekExit(); }
  bool TryReap() override { return process_.TryReap(); }
  bool Signal(int signal) override { return process_.Signal(signal); }

 private:
  AdoptedProcess process_;
};

// runc (also the default handler "") and crun, each with its state under
// <state>/oci/<name>: they do not share a state format.
class RuncRuntime : public OciRuntime {
 public:
  // runc and crun from /usr/bin, those that are installed.
  explicit RuncRuntime(std::string state_dir);
  // These binaries, by handler name (tests give fakes).
  RuncRuntime(std::string state_dir, std::map<std::string, std::string> binaries)
      : state_dir_(std::move(state_dir)), binaries_(std::move(binaries)) {}
  absl::Status Check(const std::string& handler) const override;
  std::vector<std::string> Handlers() const override;
  std::string Binary(const std::string& handler) const override;
  std::string Root(const std::string& handler) const override;
  bool RecursiveReadOnly(const std::string& handler) const override;
  absl::StatusOr<std::shared_ptr<ProcessHandle>> Create(const std::string& handler, const std::string& id,
                                                        const std::string& bundle) override;
  absl::Status Start(const std::string& handler, const std::string& id) override;
  absl::Status Kill(const std::string& handler, const std::string& id, int signal, bool all) override;
  absl::Status Delete(const std::string& handler, const std::string& id) override;
  absl::Status Update(const std::string& handler, const std::string& id, const nlohmann::json& resources) override;
  absl::StatusOr<std::string> State(const std::string& handler, const std::string& id) override;
  std::vector<std::string> ExecCommand(const std::string& handler, const std::string& id,
                                       const std::vector<std::string>& cmd,
                                       const std::string& console_socket) const override;
  absl::StatusOr<RunResult> ExecSync(const std::string& handler, const std::string& id,
                                     const std::vector<std::string>& cmd, absl::Duration timeout,
                                     size_t max_output) override;
  // The IDs in the runtime's state (for crispd reset).
  absl::StatusOr<std::vector<std::string>> List(const std::string& handler);

 private:
  // `<binary> features` read once per handler: rro support (absl's mutex
  // guards the cache; Status asks from many threads).
  mutable absl::Mutex features_mu_;
  mutable std::map<std::string, bool> recursive_read_only_ ABSL_GUARDED_BY(features_mu_);
  static std::string Name(const std::string& handler) { return handler.empty() ? "runc" : handler; }
  std::vector<std::string> Command(const std::string& handler, std::initializer_list<std::string> args) const;
  std::string state_dir_;
  std::map<std::string, std::string> binaries_;
};

// A netns per sandbox under /var/run/netns (crispd-<id prefix>), attached
// by the CNI network in the config directory.
class CniPodNetwork : public PodNetwork {
 public:
  // Writes the default bridge network into an empty config directory.
  static absl::StatusOr<std::unique_ptr<CniPodNetwork>> Open(CniConfig config);
  // Without writing anything (for crispd reset).
  explicit CniPodNetwork(CniConfig config) : cni_(std::move(config)) {}
  bool Ready(std::string* why) const override { return cni_.Ready(why); }
  std::string NetnsPath(const std::string& sandbox_id) const override;
  absl::StatusOr<std::string> Setup(const std::string& sandbox_id, const nlohmann::json& port_mappings) override;
  absl::Status Teardown(const std::string& sandbox_id, const std::string& netns,
                        const nlohmann::json& port_mappings) override;

 private:
  Cni cni_;
};

// conmon (`conmon_binary`), which double-forks, runs the runtime's create
// and stays as the container's monitor.
class ConmonMonitor : public Monitor {
 public:
  explicit ConmonMonitor(std::string conmon_binary) : conmon_(std::move(conmon_binary)) {}
  absl::StatusOr<Started> Start(const Request& request) override;
  absl::Status ReopenLog(const std::string& dir) override;

 private:
  std::string conmon_;
};

class SystemMounter : public Mounter {
 public:
  absl::Status Mount(const std::string& source, const std::string& target, const std::string& type,
                     unsigned long flags, const std::string& data) override;
  void Unmount(const std::string& target) override;
};

}  // namespace crisp::crispd
