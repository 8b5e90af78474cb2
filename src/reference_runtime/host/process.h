// Running a helper program (runc, a CNI plugin, ip) to completion, with
// its own environment and standard input, capturing what it prints.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace crisp::crispd {

struct ProcessResult {
  int exit_code = -1;  // -1 when killed by a signal
  bool timed_out = false;
  std::string stdout_text;
  std::string stderr_text;
};

// Runs argv[0] (an absolute path) with `env` (NAME=VALUE; empty: crispd's
// environment) and `input` on standard input. Fails only when it cannot
// start; a non-zero exit is in the result.
absl::StatusOr<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                         const std::vector<std::string>& env = {},
                                         const std::string& input = "");

// The same, with a time limit: past it the program gets SIGTERM (runc
// forwards it to what it runs), then SIGKILL a second later; timed_out is
// set. Output beyond `max_output` bytes per stream is dropped.
absl::StatusOr<ProcessResult> RunProcessFor(const std::vector<std::string>& argv, int timeout_ms,
                                            size_t max_output);

// For programs that leave a long-lived process holding their stdio (runc
// create): runs with /dev/null as stdin, stdout and stderr, and returns the
// exit code.
absl::StatusOr<int> RunWithNullStdio(const std::vector<std::string>& argv);

// RunProcess, then an error naming the program and its stderr unless it
// exited 0.
absl::StatusOr<ProcessResult> RunChecked(const std::vector<std::string>& argv,
                                         const std::vector<std::string>& env = {},
                                         const std::string& input = "");

}  // namespace crisp::crispd
