// Sweeping pod sandboxes (and with them their containers) off a runtime, by
// label or all of them: the final sweep of every run, and `crisp clean` for
// a user whose run was killed with SIGKILL.
#pragma once

#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "harness/client/cri_client.h"

namespace crisp::runner {

struct CleanResult {
  int removed = 0;
  // One line per sandbox that could not be stopped or removed.
  std::vector<std::string> failures;
};

// Stops and removes one sandbox (and so its containers); "" when it is gone
// (NotFound counts as gone), else what failed.
std::string RemoveSandbox(client::CriClient& client, const std::string& id, absl::Duration timeout);

// Stops and removes every sandbox whose labels include all of `labels`
// (every sandbox when `labels` is empty). Progress goes to `log`.
CleanResult CleanSandboxes(client::CriClient& client,
                           const std::map<std::string, std::string>& labels,
                           absl::Duration timeout, std::ostream& log);

}  // namespace crisp::runner
