// What every OCI spec crispd writes shares (an infra process's and a
// container's): one place for the default mounts.
#pragma once

#include "nlohmann/json.hpp"

namespace crisp::crispd {

// /proc, a tmpfs /dev, and /sys (read-only unless `writable_sys`, as for a
// privileged container), in the order they must be mounted.
inline nlohmann::json BaseMounts(bool writable_sys) {
  return nlohmann::json::array({
      {{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}, {"options", {"nosuid", "noexec", "nodev"}}},
      {{"destination", "/dev"}, {"type", "tmpfs"}, {"source", "tmpfs"},
       {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}},
      {{"destination", "/sys"}, {"type", "sysfs"}, {"source", "sysfs"},
       {"options", {"nosuid", "noexec", "nodev", writable_sys ? "rw" : "ro"}}},
  });
}

}  // namespace crisp::crispd
