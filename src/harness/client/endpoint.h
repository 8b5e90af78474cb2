// Endpoint: where a CRI runtime listens, as named on crisp's command line.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace crisp::client {

// The word that names the bundled reference runtime (crispd) on the command
// line: `-e reference` or `-e NAME=reference`.
inline constexpr std::string_view kReferenceEndpoint = "reference";

struct Endpoint {
  enum class Kind { kUnix, kReference };

  // Display name: given as NAME=..., else derived from the socket file name
  // ("/run/containerd/containerd.sock" -> "containerd"), else "reference".
  std::string name;
  Kind kind = Kind::kUnix;
  // Absolute path of the unix socket; empty for kReference.
  std::string socket_path;

  // The gRPC target string, "unix:///abs/path". Only for kUnix.
  std::string GrpcTarget() const;
  // What the user would recognise: "unix:///abs/path" or "reference".
  std::string Display() const;
};

// Parses `unix:///abs/path`, a bare absolute path, `reference`, or any of
// these prefixed with `NAME=`. Returns InvalidArgument with a message that
// says what form was expected.
absl::StatusOr<Endpoint> ParseEndpoint(std::string_view text);

}  // namespace crisp::client
