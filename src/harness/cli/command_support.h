// What the subcommands that talk to a runtime share: the global flags, and
// getting from an endpoint flag to a client that has passed the handshake.
#pragma once

#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "harness/client/cri_client.h"
#include "harness/client/endpoint.h"
#include "harness/cli/private_crispd.h"
#include "runtime/v1/api.pb.h"

namespace crisp::cli {

struct GlobalOptions {
  std::string timeout = "10s";
  // For the bundled reference runtime: REGISTRY=URL mirrors it pulls through.
  std::vector<std::string> registry_mirrors;
};

// Parses --timeout into a positive duration.
absl::StatusOr<absl::Duration> ParseTimeout(const std::string& text);

// Parses an endpoint for a command that talks to a runtime; reports the
// problem on `err` when it cannot be used.
absl::StatusOr<client::Endpoint> ResolveEndpoint(const std::string& text, std::ostream& err);

struct Connection {
  // The private crispd behind `reference`; stopped when the connection goes.
  std::unique_ptr<PrivateCrispd> reference;
  client::Endpoint endpoint;
  std::unique_ptr<client::CriClient> client;
  absl::Duration timeout;
  runtime::v1::VersionResponse version;
};

// Parses the flags, connects and calls Version. On failure the reason is on
// `err` (one line) and the result is empty: the command exits kExitUsage.
// `recorder` (may be null) receives every call, the handshake included.
std::optional<Connection> Connect(const GlobalOptions& global, const std::string& endpoint,
                                  std::ostream& err, client::CallRecorder* recorder = nullptr);

}  // namespace crisp::cli
