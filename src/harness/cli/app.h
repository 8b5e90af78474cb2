// The crisp command line: subcommands, their flags, exit codes.
#pragma once

#include <ostream>

namespace crisp::cli {

// Exit codes shared by every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailures = 1;  // a check failed or errored
inline constexpr int kExitUsage = 2;     // bad flags, bad input, unreachable endpoint
inline constexpr int kExitInterrupted = 130;  // SIGINT/SIGTERM, after cleaning up

// Parses argv, runs the chosen subcommand and returns its exit code. Normal
// output goes to `out`, diagnostics to `err`. Never calls exit().
int RunCrisp(int argc, const char* const* argv, std::ostream& out,
             std::ostream& err);

}  // namespace crisp::cli
