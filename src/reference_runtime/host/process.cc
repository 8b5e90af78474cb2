#include "reference_runtime/host/process.h"

#include "absl/status/status.h"
#include "common/strings.h"
#include "common/subprocess.h"

namespace crisp::crispd {

namespace {

absl::StatusOr<ProcessResult> Run(RunOptions options) {
  absl::StatusOr<RunResult> ran = RunProgram(options);
  if (!ran.ok()) return ran.status();
  ProcessResult result;
  result.exit_code = ran->status.code;
  result.timed_out = ran->timed_out;
  result.stdout_text = std::move(ran->stdout_text);
  result.stderr_text = std::move(ran->stderr_text);
  return result;
}

RunOptions Options(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                   const std::string& input) {
  RunOptions options;
  options.spawn.argv = argv;
  if (!env.empty()) options.spawn.env = env;
  options.input = input;
  return options;
}

}  // namespace

absl::StatusOr<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                         const std::vector<std::string>& env, const std::string& input) {
  return Run(Options(argv, env, input));
}

absl::StatusOr<ProcessResult> RunProcessFor(const std::vector<std::string>& argv, int timeout_ms,
                                            size_t max_output) {
  RunOptions options = Options(argv, {}, "");
  if (timeout_ms > 0) options.timeout = absl::Milliseconds(timeout_ms);
  options.max_output = max_output;
  return Run(std::move(options));
}

absl::StatusOr<int> RunWithNullStdio(const std::vector<std::string>& argv) {
  RunOptions options = Options(argv, {}, "");
  options.capture = false;  // stdin, stdout and stderr stay /dev/null
  absl::StatusOr<ProcessResult> result = Run(std::move(options));
  if (!result.ok()) return result.status();
  return result->exit_code;
}

absl::StatusOr<ProcessResult> RunChecked(const std::vector<std::string>& argv,
                                         const std::vector<std::string>& env, const std::string& input) {
  absl::StatusOr<ProcessResult> result = RunProcess(argv, env, input);
  if (!result.ok()) return result;
  if (result->exit_code != 0) {
    std::string message = result->stderr_text.empty() ? result->stdout_text : result->stderr_text;
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
    return absl::InternalError(crisp::StrCat(CommandLine(argv), " exited ", result->exit_code, ": ", message));
  }
  return result;
}

}  // namespace crisp::crispd
