// Carries out a scenario's host-side steps (scenario/host_actions.h) and
// undoes them when the scenario ends: listeners closed, mounts detached in
// reverse order, temporary files and directories removed.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace crisp::runner {

// Output, HTTP bodies and stream channels are kept up to this size each.
inline constexpr size_t kMaxCapture = 1 << 20;

class HostSide {
 public:
  // `tag` names the scenario's temporary area: /tmp/crisp-host-<tag>-XXXXXX.
  explicit HostSide(std::string tag);
  ~HostSide();
  HostSide(const HostSide&) = delete;
  HostSide& operator=(const HostSide&) = delete;

  // Runs an action with its arguments (references resolved). The result is
  // what the step's expectations check; an error means the action itself
  // could not be done (a harness error, not a runtime failure).
  absl::StatusOr<nlohmann::json> Run(std::string_view action, const nlohmann::json& args);

  // Undoes everything, in reverse order; one line per thing that could not
  // be undone.
  std::vector<std::string> Undo();

  // The scenario's temporary area ("" until an action needs one).
  const std::string& area() const { return area_; }

 private:
  absl::StatusOr<nlohmann::json> RunAction(std::string_view action, const nlohmann::json& args);
  absl::StatusOr<std::string> Area();
  // A name nothing has in the area: "<area>/<prefix>-<N>".
  absl::StatusOr<std::string> NewAreaPath(std::string_view prefix);
  // The `path` argument, or a new name in the area when there is none.
  absl::StatusOr<std::string> PathArg(const nlohmann::json& args, std::string_view prefix);

  std::string tag_;
  std::string area_;  // created on first use, private (mkdtemp), removed by Undo
  int names_ = 0;
  struct Undoable {
    enum class Kind { kMount, kListener, kPath, kCommand } kind;
    std::string path;
    int fd = -1;
    std::vector<std::string> argv;  // kCommand
  };
  std::vector<Undoable> undo_;
};

// How a streaming URL is written: "absolute" (scheme://host...),
// "scheme-relative" (//host..., dialled as http), "path-only" (/path: no
// host to dial) or "other".
std::string StreamingUrlForm(const std::string& url);

// GET over plain HTTP/1.0 with a deadline: {status, body, error}. Status 0
// and the error when no answer came (refused, timed out, not HTTP).
nlohmann::json HttpGet(const std::string& url, int timeout_ms);

// Runs argv (no shell) with a deadline: {exit_code, stdout, stderr}; exit
// code -1 and "timed out" in stderr when killed.
absl::StatusOr<nlohmann::json> RunHostCommand(const std::vector<std::string>& argv, int timeout_ms);

}  // namespace crisp::runner
