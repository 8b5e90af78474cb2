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
  if (endpoint->kind == client::Endpoint::Kind::kReference) {
    err << "crisp: error: endpoint reference: the bundled reference runtime "
           "(crispd) is not part of this build yet; name a runtime with "
           "-e unix:///path/to/socket\n";
    return absl::UnimplementedError("reference runtime");
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
  Connection connection{*endpoint,
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
