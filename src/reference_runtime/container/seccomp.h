// A container's seccomp filter (the OCI spec's linux.seccomp), from its CRI
// security context: crispd's own RuntimeDefault profile, a Localhost profile
// read from the node, or none.
//
// Which profile (the first rule that applies wins):
//   privileged container                 -> none (privileged ignores seccomp)
//   `seccomp` set                        -> its profile_type: Unconfined, RuntimeDefault, Localhost
//   seccomp_profile_path (deprecated)    -> "" and "unconfined": none; "runtime/default" and
//                                           "docker/default": RuntimeDefault; "localhost/<path>":
//                                           that file; anything else is refused
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "runtime/v1/api.pb.h"

namespace crisp::crispd {

// The OCI seccomp object for a container whose bounding capabilities are
// `capabilities` ("CAP_SYS_ADMIN", ...), or nullopt for no filter.
// InvalidArgument for a path without "localhost/", NotFound or
// InvalidArgument (naming the file) for a Localhost profile that cannot be
// read or parsed.
absl::StatusOr<std::optional<nlohmann::json>> SeccompFor(const runtime::v1::LinuxContainerSecurityContext& security,
                                                         const std::vector<std::string>& capabilities);

// crispd's RuntimeDefault profile for those capabilities: everything not
// allowed fails with EPERM; clone3 fails with ENOSYS without CAP_SYS_ADMIN so
// that libc falls back to clone, which then may not make namespaces.
nlohmann::json DefaultSeccompProfile(const std::vector<std::string>& capabilities);

// A profile in the Docker/moby format (names or name, archMap, includes and
// excludes by capability and architecture) or already in the OCI format, as
// the OCI seccomp object for this machine. InvalidArgument when it is not a
// profile.
absl::StatusOr<nlohmann::json> SeccompFromProfile(const nlohmann::json& profile,
                                                  const std::vector<std::string>& capabilities);

}  // namespace crisp::crispd
