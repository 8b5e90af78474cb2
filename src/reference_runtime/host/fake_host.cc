#include "reference_runtime/host/fake_host.h"

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/status/status.h"
#include "common/strings.h"

namespace crisp::crispd {

namespace fs = std::filesystem;

// ---- FakeProcess

bool FakeProcess::HasExited() const {
  std::lock_guard lock(mutex_);
  return exit_.has_value();
}

std::optional<ExitStatus> FakeProcess::PeekExit() const {
  std::lock_guard lock(mutex_);
  return reaped_ ? std::nullopt : exit_;
}

bool FakeProcess::TryReap() {
  std::lock_guard lock(mutex_);
  if (!exit_) return false;
  reaped_ = true;
  return true;
}

bool FakeProcess::Signal(int signal) {
  std::lock_guard lock(mutex_);
  if (reaped_) return false;
  if (!exit_) exit_ = ExitStatus{-1, signal};
  return true;
}

void FakeProcess::Exit(ExitStatus status) {
  std::lock_guard lock(mutex_);
  if (!exit_) exit_ = status;
}

bool FakeProcess::reaped() const {
  std::lock_guard lock(mutex_);
  return reaped_;
}

// ---- FakeOciRuntime

absl::Status FakeOciRuntime::Check(const std::string& handler) const {
  if (handler.empty() || handler == "runc" || handler == "crun") return absl::OkStatus();
  return absl::NotFoundError(crisp::StrCat("no runtime handler \"", handler, "\" (crispd has: crun, runc)"));
}

absl::Status FakeOciRuntime::TakeFailure(const std::string& method) {
  auto found = failures_.find(method);
  if (found == failures_.end()) return absl::OkStatus();
  absl::Status status = found->second;
  failures_.erase(found);
  return status;
}

absl::StatusOr<std::shared_ptr<ProcessHandle>> FakeOciRuntime::Create(const std::string& handler, const std::string& id,
                                                                      const std::string& bundle) {
  std::lock_guard lock(mutex_);
  calls_.push_back("create " + id);
  if (absl::Status failed = TakeFailure("create"); !failed.ok()) return failed;
  if (containers_.count(id)) return absl::AlreadyExistsError("container " + id + " exists");
  if (!fs::exists(bundle + "/config.json")) return absl::FailedPreconditionError("no config.json in " + bundle);
  auto init = std::make_shared<FakeProcess>(next_pid_++);
  containers_[id] = Container{handler, bundle, "created", init};
  return std::shared_ptr<ProcessHandle>(init);
}

absl::Status FakeOciRuntime::Start(const std::string&, const std::string& id) {
  std::lock_guard lock(mutex_);
  calls_.push_back("start " + id);
  if (absl::Status failed = TakeFailure("start"); !failed.ok()) return failed;
  auto found = containers_.find(id);
  if (found == containers_.end()) return absl::NotFoundError("container " + id + " does not exist");
  if (found->second.state != "created") return absl::FailedPreconditionError("container " + id + " is not created");
  found->second.state = "running";
  return absl::OkStatus();
}

void FakeOciRuntime::EndLocked(const std::string& id, Container& container, ExitStatus status) {
  container.state = "stopped";
  container.init->Exit(status);
  if (monitor_ != nullptr) monitor_->Exited(id, status);
}

absl::Status FakeOciRuntime::Kill(const std::string&, const std::string& id, int signal, bool all) {
  std::lock_guard lock(mutex_);
  calls_.push_back(crisp::StrCat("kill ", id, " ", signal, all ? " all" : ""));
  auto found = containers_.find(id);
  if (found == containers_.end()) return absl::NotFoundError("container " + id + " does not exist");
  Container& container = found->second;
  if (container.state != "running" && container.state != "created") {
    return absl::FailedPreconditionError("container " + id + " is not running");
  }
  if (signal == SIGTERM && ignore_term_.count(id)) return absl::OkStatus();
  EndLocked(id, container, ExitStatus{-1, signal});
  return absl::OkStatus();
}

absl::Status FakeOciRuntime::Delete(const std::string&, const std::string& id) {
  std::lock_guard lock(mutex_);
  calls_.push_back("delete " + id);
  if (absl::Status failed = TakeFailure("delete"); !failed.ok()) return failed;
  auto found = containers_.find(id);
  if (found == containers_.end()) return absl::OkStatus();
  if (found->second.state != "stopped") EndLocked(id, found->second, ExitStatus{-1, SIGKILL});
  containers_.erase(found);
  return absl::OkStatus();
}

absl::Status FakeOciRuntime::Update(const std::string&, const std::string& id, const nlohmann::json& resources) {
  std::lock_guard lock(mutex_);
  calls_.push_back(crisp::StrCat("update ", id, " ", resources.dump()));
  if (absl::Status failure = TakeFailure("update"); !failure.ok()) return failure;
  if (!containers_.count(id)) return absl::NotFoundError("container " + id + " does not exist");
  return absl::OkStatus();
}

absl::StatusOr<std::string> FakeOciRuntime::State(const std::string&, const std::string& id) {
  std::lock_guard lock(mutex_);
  auto found = containers_.find(id);
  if (found == containers_.end()) return absl::NotFoundError("container " + id + " does not exist");
  return found->second.state;
}

std::vector<std::string> FakeOciRuntime::ExecCommand(const std::string&, const std::string& id,
                                                     const std::vector<std::string>& cmd,
                                                     const std::string& console_socket) const {
  std::vector<std::string> argv = {"/fake/exec", id};
  if (!console_socket.empty()) argv.insert(argv.begin() + 1, "--console-socket=" + console_socket);
  argv.insert(argv.end(), cmd.begin(), cmd.end());
  return argv;
}

absl::StatusOr<RunResult> FakeOciRuntime::ExecSync(const std::string&, const std::string& id,
                                                   const std::vector<std::string>& cmd, absl::Duration timeout,
                                                   size_t) {
  std::lock_guard lock(mutex_);
  calls_.push_back(crisp::StrCat("exec ", id, " ", cmd.empty() ? "" : cmd[0], " timeout=", absl::FormatDuration(timeout)));
  return exec_result_;
}

void FakeOciRuntime::FailNext(const std::string& method, absl::Status status) {
  std::lock_guard lock(mutex_);
  failures_[method] = std::move(status);
}

void FakeOciRuntime::IgnoreTerm(const std::string& id) {
  std::lock_guard lock(mutex_);
  ignore_term_.insert(id);
}

void FakeOciRuntime::ExitOnItsOwn(const std::string& id, int code) {
  std::lock_guard lock(mutex_);
  auto found = containers_.find(id);
  if (found != containers_.end() && found->second.state == "running") EndLocked(id, found->second, ExitStatus{code, 0});
}

std::vector<std::string> FakeOciRuntime::calls() const {
  std::lock_guard lock(mutex_);
  return calls_;
}

bool FakeOciRuntime::Has(const std::string& id) const {
  std::lock_guard lock(mutex_);
  return containers_.count(id) > 0;
}

std::string FakeOciRuntime::StateOf(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto found = containers_.find(id);
  return found == containers_.end() ? "" : found->second.state;
}

// ---- FakeMonitor

FakeMonitor::FakeMonitor(FakeOciRuntime& oci) : oci_(oci) { oci_.SetMonitor(this); }

absl::StatusOr<Monitor::Started> FakeMonitor::Start(const Request& request) {
  {
    std::lock_guard lock(mutex_);
    calls_.push_back("start " + request.id);
    if (!failure_.ok()) return std::exchange(failure_, absl::OkStatus());
  }
  // conmon opens the CRI log first, and fails when it cannot.
  if (!std::ofstream(request.log_path, std::ios::app)) {
    return absl::InternalError(crisp::StrCat("conmon cannot open the log ", request.log_path));
  }
  absl::StatusOr<std::shared_ptr<ProcessHandle>> init = oci_.Create("", request.id, request.dir);
  if (!init.ok()) return init.status();
  auto monitor = std::make_shared<FakeProcess>(next_pid_++);
  std::lock_guard lock(mutex_);
  dirs_[request.id] = request.dir;
  logs_[request.id] = request.log_path;
  monitors_[request.id] = monitor;
  return Started{(*init)->pid(), monitor};
}

absl::Status FakeMonitor::ReopenLog(const std::string& dir) {
  std::lock_guard lock(mutex_);
  calls_.push_back("reopen " + fs::path(dir).filename().string());
  std::string id = fs::path(dir).filename().string();
  if (auto log = logs_.find(id); log != logs_.end()) {
    // As conmon does, a moment later, on its own thread.
    std::thread([path = log->second] {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      std::ofstream(path, std::ios::app).flush();
    }).detach();
  }
  return absl::OkStatus();
}

void FakeMonitor::Exited(const std::string& id, ExitStatus status) {
  std::lock_guard lock(mutex_);
  auto dir = dirs_.find(id);
  if (dir == dirs_.end()) return;
  fs::create_directories(dir->second + "/exits");
  std::ofstream(dir->second + "/exits/" + id) << status.ShellCode();
  monitors_[id]->Exit(ExitStatus{0, 0});  // conmon exits once it has written the exit file
}

std::vector<std::string> FakeMonitor::calls() const {
  std::lock_guard lock(mutex_);
  return calls_;
}

std::shared_ptr<FakeProcess> FakeMonitor::ProcessOf(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto found = monitors_.find(id);
  return found == monitors_.end() ? nullptr : found->second;
}

// ---- FakePodNetwork

bool FakePodNetwork::Ready(std::string* why) const {
  if (why != nullptr) why->clear();
  return true;
}

absl::StatusOr<std::string> FakePodNetwork::Setup(const std::string& sandbox_id, const nlohmann::json& port_mappings) {
  std::lock_guard lock(mutex_);
  calls_.push_back(crisp::StrCat("setup ", sandbox_id, " ports=", port_mappings.size()));
  if (!setup_failure_.ok()) return std::exchange(setup_failure_, absl::OkStatus());
  attached_.insert(sandbox_id);
  return crisp::StrCat("10.0.0.", next_ip_++);
}

absl::Status FakePodNetwork::Teardown(const std::string& sandbox_id, const std::string&, const nlohmann::json&) {
  std::lock_guard lock(mutex_);
  calls_.push_back("teardown " + sandbox_id);
  if (!teardown_failure_.ok()) return std::exchange(teardown_failure_, absl::OkStatus());
  attached_.erase(sandbox_id);
  return absl::OkStatus();
}

std::set<std::string> FakePodNetwork::attached() const {
  std::lock_guard lock(mutex_);
  return attached_;
}

std::vector<std::string> FakePodNetwork::calls() const {
  std::lock_guard lock(mutex_);
  return calls_;
}

// ---- FakeMounter

absl::Status FakeMounter::Mount(const std::string&, const std::string& target, const std::string&, unsigned long,
                                const std::string&) {
  std::lock_guard lock(mutex_);
  if (!failure_.ok()) return std::exchange(failure_, absl::OkStatus());
  mounted_.insert(target);
  return absl::OkStatus();
}

void FakeMounter::Unmount(const std::string& target) {
  std::lock_guard lock(mutex_);
  mounted_.erase(target);
}

std::set<std::string> FakeMounter::mounted() const {
  std::lock_guard lock(mutex_);
  return mounted_;
}

// ---- FakeImages

ImageRecord FakeImages::Add(const std::string& reference, nlohmann::json config) {
  std::lock_guard lock(mutex_);
  ImageRecord image;
  image.id = crisp::StrCat("sha256:", std::string(60, 'a'), images_.size() / 2 + 1000);
  image.repo_tags = {reference};
  image.repo_digests = {reference + "@sha256:" + std::string(64, 'd')};
  image.config = std::move(config);
  images_[reference] = image;
  images_[image.id] = image;
  return image;
}

std::optional<ImageRecord> FakeImages::Find(const std::string& reference) const {
  std::lock_guard lock(mutex_);
  auto found = images_.find(reference);
  if (found == images_.end()) return std::nullopt;
  return found->second;
}

std::optional<ImageRecord> FakeImages::FindAndPin(const std::string& reference) {
  std::lock_guard lock(mutex_);
  auto found = images_.find(reference);
  if (found == images_.end()) return std::nullopt;
  ++pins_[found->second.id];
  return found->second;
}

void FakeImages::Pin(const std::string& image_id) {
  std::lock_guard lock(mutex_);
  ++pins_[image_id];
}

void FakeImages::Unpin(const std::string& image_id) {
  std::lock_guard lock(mutex_);
  --pins_[image_id];
}

int FakeImages::pins(const std::string& image_id) const {
  std::lock_guard lock(mutex_);
  auto found = pins_.find(image_id);
  return found == pins_.end() ? 0 : found->second;
}

// ---- FakePinner

absl::StatusOr<std::map<std::string, std::string>> FakePinner::Pin(const Request& request) {
  std::lock_guard<std::mutex> lock(mutex_);
  calls_.push_back("pin " + request.dir);
  if (!failure_.ok()) return std::exchange(failure_, absl::OkStatus());
  pinned_[request.dir] = request;
  std::map<std::string, std::string> pins = {{"uts", request.dir + "/ns/uts"}};
  if (request.ipc) pins["ipc"] = request.dir + "/ns/ipc";
  return pins;
}

void FakePinner::Unpin(const std::string& dir, const std::string& cgroup) {
  std::lock_guard<std::mutex> lock(mutex_);
  calls_.push_back("unpin " + dir + " " + cgroup);
  pinned_.erase(dir);
}

std::map<std::string, NamespacePinner::Request> FakePinner::pinned() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return pinned_;
}

std::vector<std::string> FakePinner::calls() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return calls_;
}

}  // namespace crisp::crispd
