// Fakes of crispd's seams, for the managers' unit tests: an OCI runtime
// that keeps its containers in memory and "runs" them as FakeProcesses, a
// monitor that writes the exit file as conmon does, a pod network and a
// mounter that only remember, and an image catalog of made-up images.
// Each records the calls it got (`calls`), and can be told to fail one.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "reference_runtime/host/seams.h"

namespace crisp::crispd {

class FakeProcess : public ProcessHandle {
 public:
  explicit FakeProcess(int pid) : pid_(pid) {}
  int pid() const override { return pid_; }
  bool HasExited() const override;
  std::optional<ExitStatus> PeekExit() const override;
  bool TryReap() override;
  bool Signal(int signal) override;
  void Exit(ExitStatus status);
  bool reaped() const;

 private:
  const int pid_;
  mutable std::mutex mutex_;
  std::optional<ExitStatus> exit_;
  bool reaped_ = false;
};

class FakeMonitor;

class FakeOciRuntime : public OciRuntime {
 public:
  struct Container {
    std::string handler;
    std::string bundle;
    std::string state;  // created, running, stopped
    std::shared_ptr<FakeProcess> init;
  };

  absl::Status Check(const std::string& handler) const override;
  std::vector<std::string> Handlers() const override { return {"crun", "runc"}; }
  std::string Binary(const std::string& handler) const override { return "/fake/" + Name(handler); }
  std::string Root(const std::string& handler) const override { return "/fake/state/" + Name(handler); }
  bool RecursiveReadOnly(const std::string& handler) const override { return Name(handler) == "runc"; }
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

  // Test controls.
  void FailNext(const std::string& method, absl::Status status);  // "create", "start", "delete", "update"
  void IgnoreTerm(const std::string& id);                        // its init ignores SIGTERM, as a PID 1 sleep does
  void SetExecResult(RunResult result) { exec_result_ = std::move(result); }
  void SetMonitor(FakeMonitor* monitor) { monitor_ = monitor; }
  // Ends a running container's init by itself, with `code` (as an exit would).
  void ExitOnItsOwn(const std::string& id, int code);
  std::vector<std::string> calls() const;
  bool Has(const std::string& id) const;
  std::string StateOf(const std::string& id) const;

 private:
  static std::string Name(const std::string& handler) { return handler.empty() ? "runc" : handler; }
  absl::Status TakeFailure(const std::string& method);
  void EndLocked(const std::string& id, Container& container, ExitStatus status);

  mutable std::mutex mutex_;
  std::map<std::string, Container> containers_;
  std::map<std::string, absl::Status> failures_;
  std::set<std::string> ignore_term_;
  std::vector<std::string> calls_;
  RunResult exec_result_;
  FakeMonitor* monitor_ = nullptr;
  int next_pid_ = 100000;
};

// conmon's part: creates through the runtime, then writes <dir>/exits/<id>
// when the runtime says the container's init ended.
class FakeMonitor : public Monitor {
 public:
  explicit FakeMonitor(FakeOciRuntime& oci);
  absl::StatusOr<Started> Start(const Request& request) override;
  absl::Status ReopenLog(const std::string& dir) override;
  void FailNext(absl::Status status) { failure_ = std::move(status); }
  void Exited(const std::string& id, ExitStatus status);  // called by the runtime
  std::vector<std::string> calls() const;
  // The monitor process of container `id`, if one was started.
  std::shared_ptr<FakeProcess> ProcessOf(const std::string& id) const;

 private:
  FakeOciRuntime& oci_;
  mutable std::mutex mutex_;
  absl::Status failure_;
  std::map<std::string, std::string> dirs_;  // id → bundle
  std::map<std::string, std::string> logs_;  // id → CRI log path
  std::map<std::string, std::shared_ptr<FakeProcess>> monitors_;
  std::vector<std::string> calls_;
  int next_pid_ = 200000;
};

class FakePodNetwork : public PodNetwork {
 public:
  bool Ready(std::string* why) const override;
  std::string NetnsPath(const std::string& sandbox_id) const override {
    return netns_path_.empty() ? "/fake/netns/" + sandbox_id.substr(0, 16) : netns_path_;
  }
  // Every pod's netns path from now on: a real one, for code that opens it.
  void SetNetnsPath(std::string path) { netns_path_ = std::move(path); }
  absl::StatusOr<std::string> Setup(const std::string& sandbox_id, const nlohmann::json& port_mappings) override;
  absl::Status Teardown(const std::string& sandbox_id, const std::string& netns,
                        const nlohmann::json& port_mappings) override;
  void FailNextSetup(absl::Status status) { setup_failure_ = std::move(status); }
  void FailNextTeardown(absl::Status status) { teardown_failure_ = std::move(status); }
  std::set<std::string> attached() const;  // sandbox IDs with a network now
  std::vector<std::string> calls() const;

 private:
  mutable std::mutex mutex_;
  absl::Status setup_failure_, teardown_failure_;
  std::set<std::string> attached_;
  std::vector<std::string> calls_;
  std::string netns_path_;
  int next_ip_ = 2;
};

class FakeMounter : public Mounter {
 public:
  absl::Status Mount(const std::string& source, const std::string& target, const std::string& type,
                     unsigned long flags, const std::string& data) override;
  void Unmount(const std::string& target) override;
  void FailNext(absl::Status status) { failure_ = std::move(status); }
  std::set<std::string> mounted() const;

 private:
  mutable std::mutex mutex_;
  absl::Status failure_;
  std::set<std::string> mounted_;
};

// Remembers what it pinned; the paths are those the real one would make.
class FakePinner : public NamespacePinner {
 public:
  absl::StatusOr<std::map<std::string, std::string>> Pin(const Request& request) override;
  void Unpin(const std::string& dir, const std::string& cgroup) override;
  void FailNext(absl::Status status) { failure_ = std::move(status); }
  std::map<std::string, Request> pinned() const;  // by dir, what is pinned now
  std::vector<std::string> calls() const;

 private:
  mutable std::mutex mutex_;
  absl::Status failure_;
  std::map<std::string, Request> pinned_;
  std::vector<std::string> calls_;
};

class FakeImages : public ImageCatalog {
 public:
  // Adds an image known by `reference` (and by its ID).
  ImageRecord Add(const std::string& reference, nlohmann::json config = nlohmann::json::object());
  std::optional<ImageRecord> Find(const std::string& reference) const override;
  std::vector<std::string> LayerDirectories(const ImageRecord&) const override { return {}; }
  void Pin(const std::string& image_id) override;
  void Unpin(const std::string& image_id) override;
  std::optional<ImageRecord> FindAndPin(const std::string& reference) override;
  int pins(const std::string& image_id) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, ImageRecord> images_;  // by reference and by ID
  std::map<std::string, int> pins_;
};

// All of the above, wired together.
struct FakeHost {
  FakeOciRuntime oci;
  FakeMonitor monitor{oci};
  FakePodNetwork network;
  FakeMounter mounter;
  FakePinner pinner;
  // Without the pinner every pod has an infra process.
  Host host() { return Host{&oci, &network, &monitor, &mounter, &pinner}; }
  Host host_without_pins() { return Host{&oci, &network, &monitor, &mounter, nullptr}; }
};

}  // namespace crisp::crispd
