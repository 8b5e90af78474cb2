// `crispd reset`: removes from the host everything a crispd on these
// directories made, whether or not that crispd still runs (it should not:
// its memory would then name objects that are gone), and says what it
// removed. Images are kept: they are a cache, not a pod's resources.
#pragma once

#include <string>
#include <vector>

#include "reference_runtime/sandbox/cni.h"

namespace crisp::crispd {

struct ResetOptions {
  std::string root;   // crispd's --root
  std::string state;  // crispd's --state
  CniConfig cni;      // as crispd ran with it: DEL needs the same network
  bool remove_bridge = true;  // the default network's bridge, made by the first pod
};

struct ResetReport {
  std::vector<std::string> removed;  // one line per thing removed
  std::vector<std::string> errors;   // what could not be removed, and why
};

// Order: monitors (conmon), then OCI containers and sandboxes (runc/crun
// delete --force), then each sandbox's network (CNI DEL, netns), then
// mounts under root and state, then the records and allocations, then the bridge.
ResetReport Reset(const ResetOptions& options);

}  // namespace crisp::crispd
