#include "reference_runtime/host/real_host.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>
#include <sstream>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "common/strings.h"
#include "reference_runtime/state/atomic_file.h"
#include "reference_runtime/host/process.h"
#include "reference_runtime/host/stage_clock.h"

namespace crisp::crispd {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

absl::Status Checked(const std::vector<std::string>& argv) {
  absl::StatusOr<ProcessResult> result = RunChecked(argv);
  return result.ok() ? absl::OkStatus() : result.status();
}

}  // namespace

bool AwaitReap(ProcessHandle& process, absl::Duration within) {
  const absl::Time until = absl::Now() + within;
  while (!process.TryReap()) {
    if (absl::Now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

std::shared_ptr<ProcessHandle> AdoptedHandle::Open(int pid) {
  absl::StatusOr<AdoptedProcess> process = AdoptedProcess::Open(pid);
  if (!process.ok()) return nullptr;
  return std::make_shared<AdoptedHandle>(std::move(*process));
}

// ---- RuncRuntime

RuncRuntime::RuncRuntime(std::string state_dir) : state_dir_(std::move(state_dir)) {
  for (const auto& [name, path] : std::map<std::string, std::string>{{"runc", "/usr/bin/runc"}, {"crun", "/usr/bin/crun"}}) {
    if (access(path.c_str(), X_OK) == 0) binaries_[name] = path;
  }
}

absl::Status RuncRuntime::Check(const std::string& handler) const {
  if (binaries_.count(Name(handler))) return absl::OkStatus();
  std::string known;
  for (const auto& [name, path] : binaries_) crisp::StrAppend(&known, known.empty() ? "" : ", ", name);
  return absl::NotFoundError(crisp::StrCat("no runtime handler \"", handler, "\" (crispd has: ", known, ")"));
}

std::vector<std::string> RuncRuntime::Handlers() const {
  std::vector<std::string> names;
  for (const auto& [name, path] : binaries_) names.push_back(name);
  return names;
}

std::string RuncRuntime::Binary(const std::string& handler) const {
  auto found = binaries_.find(Name(handler));
  return found == binaries_.end() ? "/usr/bin/runc" : found->second;
}

std::string RuncRuntime::Root(const std::string& handler) const {
  return crisp::StrCat(state_dir_, "/oci/", Name(handler));
}

bool RuncRuntime::RecursiveReadOnly(const std::string& handler) const {
  const std::string name = Name(handler);
  {
    absl::MutexLock lock(&features_mu_);
    if (auto known = recursive_read_only_.find(name); known != recursive_read_only_.end()) return known->second;
  }
  // runc 1.1+ answers `features` with JSON; crun 1.8 has no such command,
  // so it is taken to lack rro (containerd asks the same question). Asked
  // without the lock (two callers may both ask once); an answer is kept,
  // a failure to get one (a timeout) is not.
  RunOptions options;
  options.spawn.argv = {Binary(handler), "features"};
  options.timeout = absl::Seconds(10);
  absl::StatusOr<RunResult> result = RunProgram(options);
  if (!result.ok() || result->timed_out) return false;
  bool supported = false;
  if (result->status.success()) {
    json features = json::parse(result->stdout_text, nullptr, false);
    if (features.is_object()) {
      for (const json& option : features.value("mountOptions", json::array())) supported |= option == "rro";
    }
  }
  absl::MutexLock lock(&features_mu_);
  recursive_read_only_[name] = supported;
  return supported;
}

std::vector<std::string> RuncRuntime::Command(const std::string& handler, std::initializer_list<std::string> args) const {
  std::vector<std::string> argv = {Binary(handler), "--root", Root(handler)};
  argv.insert(argv.end(), args);
  return argv;
}

absl::StatusOr<std::shared_ptr<ProcessHandle>> RuncRuntime::Create(const std::string& handler, const std::string& id,
                                                                   const std::string& bundle) {
  // Stdio /dev/null: the init process keeps it for its whole life.
  absl::StatusOr<int> created = RunWithNullStdio(
      Command(handler, {"--log", bundle + "/runc.log", "create", "--bundle", bundle, "--pid-file", bundle + "/pid", id}));
  if (!created.ok()) return created.status();
  if (*created != 0) {
    absl::StatusOr<std::string> log = ReadFile(bundle + "/runc.log");
    return absl::InternalError(crisp::StrCat(Binary(handler), " create failed: ", log.ok() ? *log : "(no log)"));
  }
  // runc has exited: its init process is ours now (we are the child
  // subreaper), and alive unless it already failed.
  int pid = 0;
  std::ifstream(bundle + "/pid") >> pid;
  std::shared_ptr<ProcessHandle> init = AdoptedHandle::Open(pid);
  if (!init) return absl::InternalError(crisp::StrCat("the process runc created (PID ", pid, ") is gone"));
  return init;
}

absl::Status RuncRuntime::Start(const std::string& handler, const std::string& id) {
  return Checked(Command(handler, {"start", id}));
}

absl::Status RuncRuntime::Kill(const std::string& handler, const std::string& id, int signal, bool all) {
  std::string name = sigabbrev_np(signal) != nullptr ? sigabbrev_np(signal) : std::to_string(signal);
  return Checked(all ? Command(handler, {"kill", "--all", id, name}) : Command(handler, {"kill", id, name}));
}

absl::Status RuncRuntime::Delete(const std::string& handler, const std::string& id) {
  absl::StatusOr<ProcessResult> result = RunProcess(Command(handler, {"delete", "--force", id}));
  if (!result.ok()) return result.status();
  if (result->exit_code != 0 && result->stderr_text.find("does not exist") == std::string::npos) {
    return absl::InternalError(crisp::StrCat(Binary(handler), " delete ", id, ": ", result->stderr_text));
  }
  return absl::OkStatus();
}

absl::Status RuncRuntime::Update(const std::string& handler, const std::string& id, const json& resources) {
  RunOptions options;
  options.spawn.argv = Command(handler, {"update", "--resources", "-", id});
  options.input = resources.dump();
  options.timeout = absl::Seconds(30);
  absl::StatusOr<RunResult> result = RunProgram(options);
  if (!result.ok()) return result.status();
  if (!result->status.success()) {
    return absl::InternalError(crisp::StrCat(Binary(handler), " update ", id, " (", result->status.Describe(),
                                             "): ", result->stderr_text));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> RuncRuntime::State(const std::string& handler, const std::string& id) {
  absl::StatusOr<ProcessResult> result = RunProcess(Command(handler, {"state", id}));
  if (!result.ok()) return result.status();
  if (result->exit_code != 0) return absl::NotFoundError(crisp::StrCat(Binary(handler), " has no container ", id));
  json parsed = json::parse(result->stdout_text, nullptr, false);
  if (!parsed.is_object()) return absl::InternalError(crisp::StrCat(Binary(handler), " state: not JSON"));
  return parsed.value("status", "");
}

std::vector<std::string> RuncRuntime::ExecCommand(const std::string& handler, const std::string& id,
                                                  const std::vector<std::string>& cmd,
                                                  const std::string& console_socket) const {
  std::vector<std::string> argv = console_socket.empty()
                                      ? Command(handler, {"exec", id})
                                      : Command(handler, {"exec", "--tty", "--detach", "--console-socket", console_socket,
                                                          "--pid-file", console_socket + ".pid", id});
  argv.insert(argv.end(), cmd.begin(), cmd.end());
  return argv;
}

absl::StatusOr<RunResult> RuncRuntime::ExecSync(const std::string& handler, const std::string& id,
                                                const std::vector<std::string>& cmd, absl::Duration timeout,
                                                size_t max_output) {
  RunOptions options;
  options.spawn.argv = ExecCommand(handler, id, cmd, "");
  if (timeout > absl::ZeroDuration()) options.timeout = timeout;  // runc passes SIGTERM on to the command
  options.max_output = max_output;
  return RunProgram(options);
}

absl::StatusOr<std::vector<std::string>> RuncRuntime::List(const std::string& handler) {
  absl::StatusOr<ProcessResult> listed = RunChecked(Command(handler, {"list", "-q"}));
  if (!listed.ok()) return listed.status();
  std::vector<std::string> ids;
  std::istringstream lines(listed->stdout_text);
  for (std::string id; std::getline(lines, id);) {
    if (!id.empty()) ids.push_back(id);
  }
  return ids;
}

// ---- CniPodNetwork

absl::StatusOr<std::unique_ptr<CniPodNetwork>> CniPodNetwork::Open(CniConfig config) {
  std::unique_ptr<CniPodNetwork> network(new CniPodNetwork(std::move(config)));
  if (absl::Status written = network->cni_.EnsureDefaultNetwork(); !written.ok()) return written;
  return network;
}

std::string CniPodNetwork::NetnsPath(const std::string& sandbox_id) const {
  return "/var/run/netns/crispd-" + sandbox_id.substr(0, 16);
}

absl::StatusOr<std::string> CniPodNetwork::Setup(const std::string& sandbox_id, const json& port_mappings) {
  std::string netns = NetnsPath(sandbox_id);
  if (absl::Status added = Checked({"/usr/sbin/ip", "netns", "add", fs::path(netns).filename().string()}); !added.ok()) {
    return added;
  }
  Stage("netns");
  return cni_.Add(sandbox_id, netns, port_mappings);
}

absl::Status CniPodNetwork::Teardown(const std::string& sandbox_id, const std::string& netns, const json& port_mappings) {
  // "reclaims network resources (e.g., IP addresses) allocated to the sandbox"
  absl::Status deleted = cni_.Del(sandbox_id, netns, port_mappings);
  if (fs::exists(netns)) {
    absl::Status removed = Checked({"/usr/sbin/ip", "netns", "delete", fs::path(netns).filename().string()});
    if (deleted.ok()) deleted = removed;
  }
  return deleted;
}

// ---- ConmonMonitor

namespace {

// Runs conmon, which double-forks, runs `runc create` and stays as the
// container's monitor; returns the container's PID from conmon's sync pipe.
absl::StatusOr<int> RunConmon(const std::vector<std::string>& argv, const std::string& dir, const std::string& log) {
  int sync[2];
  if (pipe2(sync, O_CLOEXEC) != 0) return absl::InternalError("pipe failed");
  SpawnOptions options;
  options.argv = argv;
  options.env = std::vector<std::string>{"_OCI_SYNCPIPE=3", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  // conmon writes some files (an `oom` marker) to its working directory:
  // the container's, not wherever crispd was started.
  options.working_dir = dir;
  options.out = Stdio::AppendTo(log);
  options.err = Stdio::AppendTo(log);
  options.extra_fds = {{sync[1], 3}};
  absl::StatusOr<Child> conmon = Child::Spawn(options);
  close(sync[1]);
  if (!conmon.ok()) {
    close(sync[0]);
    return absl::InternalError(crisp::StrCat("cannot run conmon: ", conmon.status().message()));
  }
  conmon->Wait();  // it forks its monitor and exits
  // conmon keeps the pipe open for the container's life: read one line,
  // waiting at most a minute for it.
  std::string reply;
  char buffer[1024];
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (reply.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd fd{sync[0], POLLIN, 0};
    if (poll(&fd, 1, 200) <= 0) continue;
    ssize_t n = read(sync[0], buffer, sizeof(buffer));
    if (n <= 0) break;
    reply.append(buffer, static_cast<size_t>(n));
  }
  close(sync[0]);
  json parsed = json::parse(reply.substr(0, reply.find('\n')), nullptr, false);
  int container_pid = -1;
  if (parsed.is_object()) container_pid = parsed.value("data", parsed.value("pid", -1));
  if (container_pid <= 0) {
    std::string message = parsed.is_object() ? parsed.value("message", "") : reply;
    if (message.empty()) {
      absl::StatusOr<std::string> text = ReadFile(log);
      message = text.ok() ? *text : "conmon gave no reason";
    }
    return absl::InternalError(crisp::StrCat("creating the container failed: ", message));
  }
  return container_pid;
}

}  // namespace

absl::StatusOr<Monitor::Started> ConmonMonitor::Start(const Request& request) {
  const std::string& dir = request.dir;
  std::vector<std::string> argv = {
      conmon_, "--api-version", "1", "-b", dir, "-c", request.id, "-u", request.id, "-n", request.name, "-r",
      request.runtime_binary, "--runtime-arg", "--root=" + request.runtime_root, "-p", dir + "/pidfile", "-P",
      dir + "/conmon.pid", "-l", request.log_path, "--exit-dir", dir + "/exits", "--persist-dir", dir,
      "--socket-dir-path", request.attach_dir, "--log-level", "error"};
  // Its attach socket serves the container's stdio to Attach; stdin is a
  // pipe only when the container asked for one, and outlives an attach
  // session unless stdin_once.
  if (request.stdin) argv.push_back("--stdin");
  if (request.stdin && !request.stdin_once) argv.push_back("--leave-stdin-open");
  if (request.tty) argv.push_back("--terminal");
  absl::StatusOr<int> pid = RunConmon(argv, dir, dir + "/conmon.log");
  if (!pid.ok()) return pid.status();
  Started started;
  started.container_pid = *pid;
  // conmon's own parent has exited: it is ours (we are the child subreaper).
  int conmon_pid = 0;
  std::ifstream(dir + "/conmon.pid") >> conmon_pid;
  started.monitor = AdoptedHandle::Open(conmon_pid);
  return started;
}

absl::Status ConmonMonitor::ReopenLog(const std::string& dir) {
  // conmon's control FIFO: "2 0 0" asks it to reopen the log.
  std::string ctl = dir + "/ctl";
  int fd = open(ctl.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return absl::InternalError(crisp::StrCat("cannot open conmon's control file ", ctl, ": ", std::strerror(errno)));
  constexpr char kReopen[] = "2 0 0\n";
  ssize_t written = write(fd, kReopen, sizeof(kReopen) - 1);
  close(fd);
  if (written != static_cast<ssize_t>(sizeof(kReopen) - 1)) return absl::InternalError("writing to conmon's control file failed");
  return absl::OkStatus();
}

// ---- SystemMounter

absl::Status SystemMounter::Mount(const std::string& source, const std::string& target, const std::string& type,
                                  unsigned long flags, const std::string& data) {
  if (mount(source.c_str(), target.c_str(), type.c_str(), flags, data.c_str()) != 0) {
    return absl::InternalError(crisp::StrCat("mounting ", type, " on ", target, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

void SystemMounter::Unmount(const std::string& target) { umount2(target.c_str(), MNT_DETACH); }

}  // namespace crisp::crispd
