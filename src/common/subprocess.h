// Starting, watching, signalling and reaping child processes: the one place
// crisp and crispd call posix_spawn.
//
// Every child is held by a pidfd from the moment it is spawned, so a signal
// or a wait can never reach another process that has since taken the same
// PID (this host wraps 32768 PIDs in under a minute of runc work). The
// invariant this rests on: nothing in either binary reaps with waitpid(-1)
// or waits for a PID it does not hold; a child is reaped once, by the
// Child (or AdoptedProcess) that holds it.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace crisp {

// How a process ended: an exit code, or the signal that killed it.
struct ExitStatus {
  int code = -1;   // 0..255 when it exited; -1 when a signal killed it (or the status is unknown)
  int signal = 0;  // the signal, when one killed it

  static ExitStatus FromWaitStatus(int status);
  bool success() const { return code == 0; }
  // "exit code 3", "killed by SIGKILL".
  std::string Describe() const;
  // The shell's number: the code, or 128 + the signal.
  int ShellCode() const { return code >= 0 ? code : 128 + signal; }
};

// One of a child's standard streams.
struct Stdio {
  enum class Kind { kNull, kInherit, kPipe, kFile };
  Kind kind = Kind::kNull;
  std::string path;  // kFile: opened O_CREAT|O_APPEND, mode 0600

  static Stdio Null() { return {Kind::kNull, ""}; }
  static Stdio Inherit() { return {Kind::kInherit, ""}; }
  static Stdio Pipe() { return {Kind::kPipe, ""}; }
  static Stdio AppendTo(std::string file) { return {Kind::kFile, std::move(file)}; }
};

struct SpawnOptions {
  std::vector<std::string> argv;  // argv[0]: a path, or a name looked up in PATH if search_path
  bool search_path = false;
  std::optional<std::vector<std::string>> env;  // NAME=VALUE entries; nullopt: this process's
  std::string working_dir;                      // empty: this process's
  Stdio in = Stdio::Null(), out = Stdio::Null(), err = Stdio::Null();
  // Further descriptors: {this process's fd, the child's fd} (e.g. a sync pipe as fd 3).
  std::vector<std::pair<int, int>> extra_fds;
  // Its own process group, led by the child: signals can then reach what it
  // started too (runc and the command it runs; a shell and its pipeline).
  bool own_process_group = false;
};

// A spawned child, held by a pidfd. Move-only. Destroying a child that has
// not been reaped kills it (its group, if it leads one) and reaps it.
class Child {
 public:
  static absl::StatusOr<Child> Spawn(const SpawnOptions& options);

  Child(Child&& other) noexcept;
  Child& operator=(Child&& other) noexcept;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child();

  pid_t pid() const { return pid_; }
  // Readable (POLLIN) once the child has exited; for poll loops.
  int pidfd() const { return pidfd_; }
  // The parent's ends of the pipes asked for, or -1; the caller owns what it takes.
  int TakeStdin() { return std::exchange(stdin_, -1); }
  int TakeStdout() { return std::exchange(stdout_, -1); }
  int TakeStderr() { return std::exchange(stderr_, -1); }

  // Whether it has exited, without reaping it (its PID and group stay reserved).
  bool HasExited() const;
  // Sends `signal` to the child, or to its whole group when it leads one.
  // Never after the reap, so never to a stranger. False when already reaped.
  bool Signal(int signal);
  // Reaps it, waiting as long as it takes.
  ExitStatus Wait();
  // Reaps it if it has exited by `deadline`; nullopt if it is still running.
  std::optional<ExitStatus> WaitUntil(absl::Time deadline);
  bool reaped() const { return reaped_; }

 private:
  Child() = default;
  void Reset();  // kills and reaps if still unreaped, closes every descriptor

  pid_t pid_ = -1;
  int pidfd_ = -1;
  bool group_ = false;
  bool reaped_ = false;
  ExitStatus status_;
  int stdin_ = -1, stdout_ = -1, stderr_ = -1;
};

struct RunOptions {
  SpawnOptions spawn;  // in/out/err: `input` and capture override them unless set to kInherit/kFile
  std::string input;   // written to standard input, which is then closed
  bool capture = true;  // stdout and stderr into the result (else as spawn.out/err say)
  // Past the timeout the child (its group, if it leads one) gets SIGTERM,
  // then SIGKILL `kill_grace` later; a zero grace sends SIGKILL at once.
  std::optional<absl::Duration> timeout;
  absl::Duration kill_grace = absl::Seconds(1);
  size_t max_output = std::string::npos;  // per stream; the rest is read and dropped
  // Once the child has exited, how long to keep reading output that a
  // grandchild may still hold open. Then the group (if any) is killed.
  absl::Duration linger = absl::Milliseconds(500);
};

struct RunResult {
  ExitStatus status;
  bool timed_out = false;
  bool truncated = false;  // output beyond max_output was dropped
  std::string stdout_text;
  std::string stderr_text;
};

// Runs a program to its end: feeds `input`, drains both outputs together (no
// pipe fills up), enforces the timeout. Fails only when it cannot start.
absl::StatusOr<RunResult> RunProgram(const RunOptions& options);

// A process this one did not spawn but will be the parent of (a daemon that
// double-forked, reparented to us as child subreaper). Opened by PID while
// it is known to be alive and unreaped; from then on held by pidfd.
class AdoptedProcess {
 public:
  AdoptedProcess() = default;
  // Not found: the process is gone (or was never there).
  static absl::StatusOr<AdoptedProcess> Open(pid_t pid);

  AdoptedProcess(AdoptedProcess&& other) noexcept;
  AdoptedProcess& operator=(AdoptedProcess&& other) noexcept;
  AdoptedProcess(const AdoptedProcess&) = delete;
  AdoptedProcess& operator=(const AdoptedProcess&) = delete;
  ~AdoptedProcess();

  bool valid() const { return pidfd_ >= 0; }
  pid_t pid() const { return pid_; }
  bool Signal(int signal) const;
  // Whether it has exited (true also when it is not ours to reap and gone).
  bool HasExited() const;
  // How it ended, when it has exited and is our unreaped child (it stays unreaped).
  std::optional<ExitStatus> PeekExit() const;
  // Reaps it if it has exited and is our child; never blocks. True once it
  // is gone: reaped here, or reaped by another parent.
  bool TryReap();

 private:
  pid_t pid_ = -1;
  int pidfd_ = -1;
};

// Renders argv as one line for messages: words with spaces quoted.
std::string CommandLine(const std::vector<std::string>& argv);

}  // namespace crisp
