#include "harness/cli/command_support.h"

#include "common/strings.h"
#include "harness/client/connect.h"

namespace crisp::cli {

// Parses --timeout into a positive duration.
absl::StatusOr<absl::Duration> ParseTimeout(const std::string& text) {
  absl::Duration duration;
  if (!absl::ParseDuration(text, &duration) || duration <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(crisp::StrCat(
        "--timeout: \"", text, "\" is not a positive duration (examples: 500ms, 10s, 2m)"));
  }
  return duration;
}

// Parses an endpoint for a command that talks to a runtime; reports the
// problem on `err` when it cannot be used.
absl::StatusOr<client::Endpoint> ResolveEndpoint(const std::string& text,
                                                 std::ostream& err) {
  absl::StatusOr<client::Endpoint> endpoint = client::ParseEndpoint(text);
  if (!endpoint.ok()) {
    err << "crisp: error: " << endpoint.status().message() << '\n';
    return endpoint;
  }
  return endpoint;
}

std::optional<Connection> Connect(const GlobalOptions& global, const std::string& endpoint_text,
                                  std::ostream& err, client::CallRecorder* recorder) {
  absl::StatusOr<absl::Duration> timeout = ParseTimeout(global.timeout);
  if (!timeout.ok()) {
    err << "crisp: error: " << timeout.status().message() << '\n';
    return std::nullopt;
  }
  absl::StatusOr<client::Endpoint> endpoint = ResolveEndpoint(endpoint_text, err);
  if (!endpoint.ok()) return std::nullopt;
  std::unique_ptr<PrivateCrispd> reference;
  if (endpoint->kind == client::Endpoint::Kind::kReference) {
    std::vector<std::string> args;
    for (const std::string& mirror : global.registry_mirrors) args.push_back("--registry-mirror=" + mirror);
    absl::StatusOr<std::unique_ptr<PrivateCrispd>> started = PrivateCrispd::Start(args);
    if (!started.ok()) {
      err << "crisp: error: endpoint reference: " << started.status().message() << '\n';
      return std::nullopt;
    }
    reference = *std::move(started);
    std::string name = endpoint->name;
    endpoint = client::Endpoint{name, client::Endpoint::Kind::kUnix, reference->socket_path()};
  }
  Connection connection{std::move(reference), *endpoint,
                        client::NewGrpcCriClient(*endpoint, {.default_timeout = *timeout,
                                                             .recorder = recorder}),
                        *timeout,
                        {}};
  absl::StatusOr<runtime::v1::VersionResponse> version =
      client::Handshake(*connection.client, *endpoint, *timeout);
  if (!version.ok()) {
    err << "crisp: error: " << version.status().message() << '\n';
    return std::nullopt;
  }
  connection.version = *std::move(version);
  return connection;
}

}  // namespace crisp::cli
