// The embedded default: `-e reference` (or no -e) starts a private crispd
// for the command, in a temporary directory with its own socket, root,
// state, bridge and subnet, and stops it afterwards, removing everything
// it made. crispd is a separate program; crisp only starts it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/subprocess.h"

namespace crisp::cli {

class PrivateCrispd {
 public:
  // Finds crispd ($CRISP_CRISPD, beside crisp, or in the build tree),
  // starts it with `extra_args` (registry mirrors, ...) and waits until its
  // socket accepts connections. The error says what failed, with the tail
  // of crispd's log.
  static absl::StatusOr<std::unique_ptr<PrivateCrispd>> Start(const std::vector<std::string>& extra_args);
  ~PrivateCrispd();  // SIGTERM (then SIGKILL), then `crispd reset`, then removes the directory

  const std::string& socket_path() const { return socket_; }

 private:
  PrivateCrispd() = default;
  std::optional<Child> process_;
  std::string binary_;
  std::vector<std::string> dir_args_;  // --root, --state, --bridge, --pod-cidr: for crispd and crispd reset
  std::string dir_;
  std::string socket_;
  std::string bridge_;
};

// Where crispd is: $CRISP_CRISPD, else next to crisp, else in the build tree.
absl::StatusOr<std::string> FindCrispd();

}  // namespace crisp::cli
