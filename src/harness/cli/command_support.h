// What the subcommands that talk to a runtime share: the global flags, and
// getting from an endpoint flag to a client that has passed the handshake.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "harness/client/cri_client.h"
#include "harness/client/endpoint.h"
#include "harness/cli/config.h"
#include "harness/cli/private_crispd.h"
#include "runtime/v1/api.pb.h"

namespace crisp::cli {

struct GlobalOptions {
  std::string timeout = "10s";
  // For the bundled reference runtime: REGISTRY=URL mirrors it pulls through.
  std::vector<std::string> registry_mirrors;
  std::string config_path;  // --config
  CrispConfig config;       // crisp.yaml, once loaded (flags already won)
};

// Parses --timeout into a positive duration.
absl::StatusOr<absl::Duration> ParseTimeout(const std::string& text);

// The one place a command's error becomes words and an exit code: prints
// "crisp: error: <message>" on `err` and returns kExitUsage (a problem
// before or around the run, never a scenario's verdict).
int ExitWithError(std::ostream& err, const absl::Status& status);

// --- signals: the first SIGINT/SIGTERM asks the command to stop and clean up ---

// Set by the first SIGINT/SIGTERM while a StopSignals lives; a second one
// ends the process at once.
extern std::atomic<bool> g_cancel;

// OnStopSignal for SIGINT and SIGTERM for as long as a command runs, from
// its first line: a signal that comes while suites load or endpoints
// connect stops the command too (exit 130), instead of being lost (a
// process started in the background by a shell ignores SIGINT until it
// sets a handler of its own).
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  // Stopped before anything was made: say so, for the caller to exit 130.
  bool StoppedEarly(std::ostream& err) const;

 private:
  void (*previous_int_)(int) = nullptr;
  void (*previous_term_)(int) = nullptr;
};

struct Connection {
  // The private crispd behind `reference`; stopped when the connection goes.
  std::unique_ptr<PrivateCrispd> reference;
  client::Endpoint endpoint;
  std::unique_ptr<client::CriClient> client;
  absl::Duration timeout;
  runtime::v1::VersionResponse version;
};

// Parses the flags, connects and calls Version; the error says what failed.
// `recorder` (may be null) receives every call, the handshake included.
absl::StatusOr<Connection> Connect(const GlobalOptions& global, const std::string& endpoint,
                                   client::CallRecorder* recorder = nullptr);

}  // namespace crisp::cli
