// The host side of a CRI mount's propagation: a bidirectional mount can only
// send mounts back to the host when its source is on a shared mount, and a
// host-to-container one only receives them when the source is shared or a
// slave. Both are refused otherwise, with the mount point to fix named, as
// containerd and CRI-O refuse them, instead of a mount that silently does
// not propagate.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "runtime/v1/api.pb.h"

namespace crisp::crispd {

// `mountinfo`: the text of /proc/self/mountinfo (of crispd's mount
// namespace, where runc resolves the source). `host_path` is resolved
// (symlinks) by the caller.
absl::Status CheckMountSource(const std::string& host_path, runtime::v1::MountPropagation propagation,
                              const std::string& mountinfo);

}  // namespace crisp::crispd
