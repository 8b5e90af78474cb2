#include "reference_runtime/store/process.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "absl/status/status.h"
#include "common/strings.h"

extern char** environ;

namespace crisp::crispd {

namespace {

absl::StatusOr<ProcessResult> Run(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                                  const std::string& input, int timeout_ms, size_t max_output) {
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
    int error = errno;
    for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]}) {
      if (fd >= 0) close(fd);
    }
    return absl::InternalError(crisp::StrCat("pipe: ", std::strerror(error)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
  std::vector<std::string> args = argv;
  std::vector<char*> c_argv;
  for (std::string& arg : args) c_argv.push_back(arg.data());
  c_argv.push_back(nullptr);
  std::vector<std::string> environment = env;
  std::vector<char*> c_env;
  for (std::string& entry : environment) c_env.push_back(entry.data());
  c_env.push_back(nullptr);
  pid_t pid = 0;
  int spawned = posix_spawn(&pid, args[0].c_str(), &actions, nullptr, c_argv.data(),
                            env.empty() ? environ : c_env.data());
  posix_spawn_file_actions_destroy(&actions);
  close(in[0]);
  close(out[1]);
  close(err[1]);
  if (spawned != 0) {
    close(in[1]);
    close(out[0]);
    close(err[0]);
    return absl::InternalError(crisp::StrCat("cannot run ", args[0], ": ", std::strerror(spawned)));
  }
  // Feed stdin and drain both outputs together, so no pipe fills up.
  ProcessResult result;
  size_t written = 0;
  if (input.empty()) {
    close(in[1]);
    in[1] = -1;
  }
  bool out_open = true, err_open = true;
  auto start = std::chrono::steady_clock::now();
  auto elapsed_ms = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  };
  int signals_sent = 0;
  int status = 0;
  bool exited = false;
  long exited_at = 0;
  if (in[1] >= 0) fcntl(in[1], F_SETFL, O_NONBLOCK);
  // Until the program has exited and its output is drained. A grandchild
  // may hold the pipes open after the program exits: then stop draining
  // half a second later rather than wait for it.
  while (true) {
    if (!exited) {
      pid_t waited = waitpid(pid, &status, WNOHANG);
      if (waited == pid || (waited < 0 && errno == ECHILD)) {
        exited = true;
        exited_at = elapsed_ms();
        if (waited < 0) status = -1;
        if (in[1] >= 0) {
          close(in[1]);
          in[1] = -1;
        }
      }
    }
    if (!out_open && !err_open && in[1] < 0 && exited) break;
    if (exited && elapsed_ms() - exited_at > 500) break;
    if (timeout_ms > 0 && !exited) {
      long elapsed = elapsed_ms();
      if (elapsed > timeout_ms && signals_sent == 0) {
        result.timed_out = true;
        kill(pid, SIGTERM);
        signals_sent = 1;
      } else if (elapsed > timeout_ms + 1000 && signals_sent == 1) {
        kill(pid, SIGKILL);
        signals_sent = 2;
      }
    }
    pollfd fds[3] = {{out_open ? out[0] : -1, POLLIN, 0}, {err_open ? err[0] : -1, POLLIN, 0},
                     {in[1], POLLOUT, 0}};
    if (poll(fds, 3, 50) < 0 && errno != EINTR) break;
    char buffer[4096];
    for (int i = 0; i < 2; ++i) {
      if (fds[i].revents == 0) continue;
      ssize_t n = read(fds[i].fd, buffer, sizeof(buffer));
      if (n > 0) {
        std::string& text = i == 0 ? result.stdout_text : result.stderr_text;
        if (text.size() < max_output) text.append(buffer, std::min(static_cast<size_t>(n), max_output - text.size()));
      } else {
        (i == 0 ? out_open : err_open) = false;
      }
    }
    if (in[1] >= 0 && fds[2].revents != 0) {
      ssize_t n = (fds[2].revents & POLLOUT) ? write(in[1], input.data() + written, input.size() - written) : -1;
      if (n > 0) written += static_cast<size_t>(n);
      if ((n < 0 && errno != EAGAIN) || written == input.size()) {
        close(in[1]);
        in[1] = -1;
      }
    }
  }
  close(out[0]);
  close(err[0]);
  if (in[1] >= 0) close(in[1]);
  if (!exited) {
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (status == -1) return absl::InternalError(crisp::StrCat(args[0], ": its exit status was lost"));
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace

absl::StatusOr<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                         const std::vector<std::string>& env, const std::string& input) {
  return Run(argv, env, input, 0, std::string::npos);
}

absl::StatusOr<ProcessResult> RunProcessFor(const std::vector<std::string>& argv, int timeout_ms,
                                            size_t max_output) {
  return Run(argv, {}, "", timeout_ms, max_output);
}

absl::StatusOr<int> RunWithNullStdio(const std::vector<std::string>& argv) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  for (int fd : {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO}) {
    posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == STDIN_FILENO ? O_RDONLY : O_WRONLY, 0);
  }
  std::vector<std::string> args = argv;
  std::vector<char*> c_argv;
  for (std::string& arg : args) c_argv.push_back(arg.data());
  c_argv.push_back(nullptr);
  pid_t pid = 0;
  int spawned = posix_spawn(&pid, args[0].c_str(), &actions, nullptr, c_argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) return absl::InternalError(crisp::StrCat("cannot run ", args[0], ": ", std::strerror(spawned)));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

absl::StatusOr<ProcessResult> RunChecked(const std::vector<std::string>& argv,
                                         const std::vector<std::string>& env, const std::string& input) {
  absl::StatusOr<ProcessResult> result = RunProcess(argv, env, input);
  if (!result.ok()) return result;
  if (result->exit_code != 0) {
    std::string message = result->stderr_text.empty() ? result->stdout_text : result->stderr_text;
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
    std::string command;
    for (const std::string& arg : argv) crisp::StrAppend(&command, command.empty() ? "" : " ", arg);
    return absl::InternalError(crisp::StrCat(command, " exited ", result->exit_code, ": ", message));
  }
  return result;
}

}  // namespace crisp::crispd
