// `crisp launch`: crisp itself as a pod on a runtime, through CRI, the way a
// DaemonSet's pod runs on a node (docs/fleet.md).
#pragma once

#include <ostream>

#include "CLI/CLI.hpp"
#include "harness/cli/command_support.h"
#include "harness/cli/suite_commands.h"

namespace crisp::cli {

void AddLaunchCommand(CLI::App& app, const GlobalOptions& global, Actions& actions, std::ostream& out,
                      std::ostream& err);

}  // namespace crisp::cli
