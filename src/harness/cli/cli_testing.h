// For tests: run crisp's command line in-process and capture what it prints.
#pragma once

#include <sstream>
#include <string>
#include <vector>

#include "harness/cli/app.h"

namespace crisp::cli {

struct CliResult {
  int code;
  std::string out;
  std::string err;
};

// Runs `crisp ARGS...` as RunCrisp would from main().
inline CliResult RunCrispForTest(std::vector<std::string> args) {
  args.insert(args.begin(), "crisp");
  std::vector<const char*> argv;
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  std::ostringstream out;
  std::ostringstream err;
  int code = RunCrisp(static_cast<int>(argv.size()), argv.data(), out, err);
  return {code, out.str(), err.str()};
}

}  // namespace crisp::cli
