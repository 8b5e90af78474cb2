// Running a helper program (runc, a CNI plugin, ip) to completion, with
// its own environment and standard input, capturing what it prints.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace crisp::crispd {

struct ProcessResult {
  int exit_code = -1;  // -1 when killed by a signal
  std::string stdout_text;
  std::string stderr_text;
};

// Runs argv[0] (an absolute path) with `env` (NAME=VALUE; empty: crispd's
// environment) and `input` on standard input. Fails only when it cannot
// start; a non-zero exit is in the result.
absl::StatusOr<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                         const std::vector<std::string>& env = {},
                                         const std::string& input = "");

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
