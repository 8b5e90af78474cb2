#include "common/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstring>

#include "absl/status/status.h"
#include "common/strings.h"

extern char** environ;

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace crisp {

namespace {

// Through syscall(2): Debian 12's <sys/pidfd.h> declares these without C linkage.
int PidfdOpen(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }
int PidfdSendSignal(int pidfd, int signal) { return static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0)); }

std::string Errno(const char* what) { return crisp::StrCat(what, ": ", std::strerror(errno)); }

void CloseFd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

// A NULL-terminated char* array over strings that outlive it.
std::vector<char*> CArray(std::vector<std::string>& words) {
  std::vector<char*> out;
  out.reserve(words.size() + 1);
  for (std::string& word : words) out.push_back(word.data());
  out.push_back(nullptr);
  return out;
}

// write() that cannot raise SIGPIPE in this process, whatever its handlers:
// SIGPIPE is blocked on this thread for the call and a pending one dropped.
ssize_t WriteWithoutSigpipe(int fd, const char* data, size_t size) {
  sigset_t pipe_only, old;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
  ssize_t n = write(fd, data, size);
  int saved = errno;
  if (n < 0 && errno == EPIPE) {
    const timespec zero{0, 0};
    sigtimedwait(&pipe_only, nullptr, &zero);
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  errno = saved;
  return n;
}

struct Pipe {
  int read = -1, write = -1;
  ~Pipe() {
    CloseFd(read);
    CloseFd(write);
  }
};

}  // namespace

ExitStatus ExitStatus::FromWaitStatus(int status) {
  ExitStatus result;
  if (WIFEXITED(status)) {
    result.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  return result;
}

std::string ExitStatus::Describe() const {
  if (code >= 0) return crisp::StrCat("exit code ", code);
  if (signal == 0) return "exit status unknown";
  const char* name = sigabbrev_np(signal);
  return name != nullptr ? crisp::StrCat("killed by SIG", name) : crisp::StrCat("killed by signal ", signal);
}

absl::StatusOr<Child> Child::Spawn(const SpawnOptions& options) {
  if (options.argv.empty() || options.argv[0].empty()) return absl::InvalidArgumentError("no program to run");
  Pipe pipes[3];
  const Stdio* stdio[3] = {&options.in, &options.out, &options.err};
  for (int fd = 0; fd < 3; ++fd) {
    if (stdio[fd]->kind != Stdio::Kind::kPipe) continue;
    int ends[2];
    if (pipe2(ends, O_CLOEXEC) != 0) return absl::InternalError(Errno("pipe"));
    pipes[fd].read = ends[0];
    pipes[fd].write = ends[1];
  }
  // A descriptor dup2'd onto its own number would keep its close-on-exec
  // flag: give such ones a second number first.
  std::vector<int> extra_sources;
  std::vector<int> duplicates;
  for (const auto& [source, target] : options.extra_fds) {
    int from = source;
    if (source == target) {
      from = fcntl(source, F_DUPFD_CLOEXEC, 10);
      if (from < 0) {
        for (int fd : duplicates) close(fd);
        return absl::InternalError(Errno("fcntl"));
      }
      duplicates.push_back(from);
    }
    extra_sources.push_back(from);
  }

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  for (int fd = 0; fd < 3; ++fd) {
    switch (stdio[fd]->kind) {
      case Stdio::Kind::kNull:
        posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0);
        break;
      case Stdio::Kind::kInherit:
        break;
      case Stdio::Kind::kPipe:
        posix_spawn_file_actions_adddup2(&actions, fd == 0 ? pipes[fd].read : pipes[fd].write, fd);
        break;
      case Stdio::Kind::kFile:
        posix_spawn_file_actions_addopen(&actions, fd, stdio[fd]->path.c_str(),
                                         fd == 0 ? O_RDONLY : O_WRONLY | O_CREAT | O_APPEND, 0600);
        break;
    }
  }
  for (size_t i = 0; i < extra_sources.size(); ++i) {
    posix_spawn_file_actions_adddup2(&actions, extra_sources[i], options.extra_fds[i].second);
  }
  // Nothing else crosses into the child: a descriptor another thread opened
  // without O_CLOEXEC (libstdc++'s copy_file does) would otherwise live as
  // long as the child; held open for writing, it makes the copied program
  // "text file busy" to exec (how a pod's pause failed to start, exit 1).
  int first_unused = STDERR_FILENO + 1;
  for (const auto& [source, target] : options.extra_fds) first_unused = std::max(first_unused, target + 1);
  posix_spawn_file_actions_addclosefrom_np(&actions, first_unused);
  if (!options.working_dir.empty()) posix_spawn_file_actions_addchdir_np(&actions, options.working_dir.c_str());

  // The child starts with no signal blocked and SIGPIPE at its default,
  // whatever this process blocks or ignores (crispd ignores SIGPIPE; a
  // container must not inherit that).
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (options.own_process_group) {
    flags |= POSIX_SPAWN_SETPGROUP;
    posix_spawnattr_setpgroup(&attributes, 0);
  }
  posix_spawnattr_setflags(&attributes, flags);
  sigset_t none, defaults;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attributes, &none);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigdefault(&attributes, &defaults);

  std::vector<std::string> argv = options.argv;
  std::vector<char*> c_argv = CArray(argv);
  std::vector<std::string> env = options.env.value_or(std::vector<std::string>{});
  std::vector<char*> c_env = CArray(env);
  char** envp = options.env.has_value() ? c_env.data() : environ;
  pid_t pid = -1;
  int spawned = options.search_path ? posix_spawnp(&pid, c_argv[0], &actions, &attributes, c_argv.data(), envp)
                                    : posix_spawn(&pid, c_argv[0], &actions, &attributes, c_argv.data(), envp);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  for (int fd : duplicates) close(fd);
  if (spawned != 0) {
    return absl::InvalidArgumentError(crisp::StrCat("cannot run ", options.argv[0], ": ", std::strerror(spawned)));
  }

  Child child;
  child.pid_ = pid;
  child.group_ = options.own_process_group;
  // Safe by the module's invariant: only this Child reaps `pid`, so until
  // it does the number cannot go to another process. Without pidfds (a
  // kernel before 5.3) the PID itself serves, under the same invariant.
  child.pidfd_ = PidfdOpen(pid);
  child.stdin_ = std::exchange(pipes[0].write, -1);
  child.stdout_ = std::exchange(pipes[1].read, -1);
  child.stderr_ = std::exchange(pipes[2].read, -1);
  return child;
}

Child::Child(Child&& other) noexcept { *this = std::move(other); }

Child& Child::operator=(Child&& other) noexcept {
  if (this == &other) return *this;
  Reset();
  pid_ = std::exchange(other.pid_, -1);
  pidfd_ = std::exchange(other.pidfd_, -1);
  group_ = other.group_;
  reaped_ = std::exchange(other.reaped_, true);
  status_ = other.status_;
  stdin_ = std::exchange(other.stdin_, -1);
  stdout_ = std::exchange(other.stdout_, -1);
  stderr_ = std::exchange(other.stderr_, -1);
  return *this;
}

Child::~Child() { Reset(); }

void Child::Reset() {
  if (pid_ > 0 && !reaped_) {
    Signal(SIGKILL);
    Wait();
  }
  pid_ = -1;
  reaped_ = true;
  CloseFd(pidfd_);
  CloseFd(stdin_);
  CloseFd(stdout_);
  CloseFd(stderr_);
}

bool Child::HasExited() const {
  if (reaped_) return true;
  siginfo_t info{};
  int rc = pidfd_ >= 0 ? waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd_), &info,
                                WEXITED | WNOHANG | WNOWAIT)
                       : waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT);
  return rc == 0 && info.si_pid != 0;
}

bool Child::Signal(int signal) {
  if (reaped_ || pid_ <= 0) return false;
  // The group's number is the leader's PID, reserved while the leader is
  // unreaped: it can name no other group.
  if (group_) return kill(-pid_, signal) == 0;
  if (pidfd_ >= 0) return PidfdSendSignal(pidfd_, signal) == 0;
  return kill(pid_, signal) == 0;
}

ExitStatus Child::Wait() {
  if (reaped_) return status_;
  int status = 0;
  pid_t waited;
  while ((waited = waitpid(pid_, &status, 0)) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  status_ = waited == pid_ ? ExitStatus::FromWaitStatus(status) : ExitStatus{};
  return status_;
}

std::optional<ExitStatus> Child::WaitUntil(absl::Time deadline) {
  while (!HasExited()) {
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return std::nullopt;
    int ms = static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, pidfd_ >= 0 ? 1000 : 10));
    if (pidfd_ >= 0) {
      pollfd fd{pidfd_, POLLIN, 0};
      poll(&fd, 1, ms);
    } else {
      usleep(static_cast<useconds_t>(ms) * 1000);
    }
  }
  return Wait();
}

absl::StatusOr<RunResult> RunProgram(const RunOptions& options) {
  SpawnOptions spawn = options.spawn;
  if (!options.input.empty()) spawn.in = Stdio::Pipe();
  if (options.capture) {
    spawn.out = Stdio::Pipe();
    spawn.err = Stdio::Pipe();
  }
  absl::StatusOr<Child> started = Child::Spawn(spawn);
  if (!started.ok()) return started.status();
  Child& child = *started;
  int in = child.TakeStdin(), out = child.TakeStdout(), err = child.TakeStderr();
  if (in >= 0) fcntl(in, F_SETFL, O_NONBLOCK);

  RunResult result;
  size_t written = 0;
  const absl::Time start = absl::Now();
  std::optional<absl::Time> exited_at, terminated_at;
  bool killed = false;
  while (true) {
    absl::Time now = absl::Now();
    if (!exited_at && child.HasExited()) {
      exited_at = now;
      CloseFd(in);
    }
    if (exited_at && out < 0 && err < 0) break;
    if (exited_at && now - *exited_at > options.linger) break;
    if (options.timeout && !exited_at) {
      if (!terminated_at && now - start > *options.timeout) {
        result.timed_out = true;
        terminated_at = now;
        killed = options.kill_grace <= absl::ZeroDuration();
        child.Signal(killed ? SIGKILL : SIGTERM);
      } else if (terminated_at && !killed && now - *terminated_at > options.kill_grace) {
        killed = true;
        child.Signal(SIGKILL);
      }
    }
    pollfd fds[4] = {{out, POLLIN, 0}, {err, POLLIN, 0}, {in, POLLOUT, 0},
                     {exited_at ? -1 : child.pidfd(), POLLIN, 0}};
    // pidfd wakes us at the exit; without one (or for the timeout), 50 ms.
    if (poll(fds, 4, 50) < 0 && errno != EINTR) break;
    char buffer[16384];
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t n = read(fds[i].fd, buffer, sizeof(buffer));
      if (n > 0) {
        std::string& text = i == 0 ? result.stdout_text : result.stderr_text;
        size_t keep = std::min(static_cast<size_t>(n), options.max_output - std::min(options.max_output, text.size()));
        text.append(buffer, keep);
        if (keep < static_cast<size_t>(n)) result.truncated = true;
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        CloseFd(i == 0 ? out : err);
      }
    }
    if (in >= 0 && fds[2].revents != 0) {
      ssize_t n = (fds[2].revents & POLLOUT)
                      ? WriteWithoutSigpipe(in, options.input.data() + written, options.input.size() - written)
                      : -1;
      if (n > 0) written += static_cast<size_t>(n);
      if ((n < 0 && errno != EAGAIN && errno != EINTR) || written == options.input.size()) CloseFd(in);
    }
  }
  // Output still open after the linger: a grandchild holds it. When the
  // child leads a group, end the group while the leader is unreaped.
  if ((out >= 0 || err >= 0) && spawn.own_process_group) child.Signal(SIGKILL);
  CloseFd(in);
  CloseFd(out);
  CloseFd(err);
  result.status = child.Wait();
  return result;
}

absl::StatusOr<AdoptedProcess> AdoptedProcess::Open(pid_t pid) {
  if (pid <= 0) return absl::InvalidArgumentError(crisp::StrCat("no process ", pid));
  int fd = PidfdOpen(pid);
  if (fd < 0) {
    if (errno == ESRCH) return absl::NotFoundError(crisp::StrCat("process ", pid, " is gone"));
    return absl::InternalError(Errno("pidfd_open"));
  }
  AdoptedProcess process;
  process.pid_ = pid;
  process.pidfd_ = fd;
  return process;
}

AdoptedProcess::AdoptedProcess(AdoptedProcess&& other) noexcept { *this = std::move(other); }

AdoptedProcess& AdoptedProcess::operator=(AdoptedProcess&& other) noexcept {
  if (this == &other) return *this;
  CloseFd(pidfd_);
  pid_ = std::exchange(other.pid_, -1);
  pidfd_ = std::exchange(other.pidfd_, -1);
  return *this;
}

AdoptedProcess::~AdoptedProcess() { CloseFd(pidfd_); }

bool AdoptedProcess::Signal(int signal) const {
  return pidfd_ >= 0 && PidfdSendSignal(pidfd_, signal) == 0;
}

bool AdoptedProcess::HasExited() const {
  if (pidfd_ < 0) return true;
  pollfd fd{pidfd_, POLLIN, 0};
  return poll(&fd, 1, 0) > 0;
}

std::optional<ExitStatus> AdoptedProcess::PeekExit() const {
  if (pidfd_ < 0) return std::nullopt;
  siginfo_t info{};
  if (waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd_), &info, WEXITED | WNOHANG | WNOWAIT) != 0 ||
      info.si_pid == 0) {
    return std::nullopt;
  }
  if (info.si_code == CLD_EXITED) return ExitStatus{info.si_status, 0};
  return ExitStatus{-1, info.si_status};
}

bool AdoptedProcess::TryReap() {
  if (pidfd_ < 0) return true;
  siginfo_t info{};
  if (waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd_), &info, WEXITED | WNOHANG) == 0) {
    if (info.si_pid == 0) return false;  // still running
    CloseFd(pidfd_);
    return true;
  }
  // ECHILD: not (or no longer) our child; gone once the pidfd says so.
  if (HasExited()) {
    CloseFd(pidfd_);
    return true;
  }
  return false;
}

std::string CommandLine(const std::vector<std::string>& argv) {
  std::string line;
  for (const std::string& word : argv) {
    if (!line.empty()) line += ' ';
    bool plain = !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("-_./=:,@%+", c) != nullptr;
    });
    if (plain) {
      line += word;
    } else {
      line += '\'';
      for (char c : word) line += c == '\'' ? std::string("'\\''") : std::string(1, c);
      line += '\'';
    }
  }
  return line;
}

}  // namespace crisp
