// `crisp run`, `crisp list` and `crisp validate`: the commands over suites.
#pragma once

#include <functional>
#include <map>
#include <ostream>

#include "CLI/CLI.hpp"
#include "harness/cli/command_support.h"

namespace crisp::cli {

using Actions = std::map<const CLI::App*, std::function<int()>>;

// Adds the three subcommands to `app`; their actions go into `actions`.
void AddSuiteCommands(CLI::App& app, const GlobalOptions& global, Actions& actions,
                      std::ostream& out, std::ostream& err);

}  // namespace crisp::cli
