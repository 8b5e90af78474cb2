// The OCI config of a sandbox's infra process: pause, alone, read-only,
// without capabilities, as nobody, in the pod's namespaces. Pure.
#pragma once

#include <string>

#include "nlohmann/json.hpp"
#include "runtime/v1/api.pb.h"

namespace crisp::crispd {

// `netns`: the pod's network namespace (empty: the host's); `shm`: the
// directory mounted as its /dev/shm (empty: the host's IPC); `id`: the
// sandbox's, which names its cgroup under the pod's cgroup parent.
nlohmann::json InfraSpec(const runtime::v1::PodSandboxConfig& config, const std::string& netns,
                         const std::string& shm, const std::string& id, int oom_score_adj);

}  // namespace crisp::crispd
