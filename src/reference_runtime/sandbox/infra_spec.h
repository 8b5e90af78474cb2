// The OCI config of a sandbox's infra process: pause, alone, read-only,
// without capabilities, as nobody, in the pod's namespaces. Pure.
#pragma once

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "runtime/v1/api.pb.h"

namespace crisp::crispd {

// `netns`: the pod's network namespace (empty: the host's); `shm`: the
// directory mounted as its /dev/shm (empty: the host's IPC); `id`: the
// sandbox's, which names its cgroup under the pod's cgroup parent;
// `sysctls`: set in the pod's namespaces as the infra starts (PodSysctls).
nlohmann::json InfraSpec(const runtime::v1::PodSandboxConfig& config, const std::string& netns,
                         const std::string& shm, const std::string& id, int oom_score_adj,
                         const std::map<std::string, std::string>& sysctls = {});

// The pod's sysctls, keys in dotted form ("net/ipv4/ip_forward" and
// "net.ipv4.ip_forward" alike). Only namespaced sysctls are taken, each only
// when the pod has its own namespace of that kind: IPC ones (kernel.shm*,
// kernel.msg*, kernel.sem, fs.mqueue.*) need a pod IPC namespace, net.* a pod
// network namespace, kernel.hostname and kernel.domainname the pod's UTS
// namespace (always its own). Anything else would change the node:
// InvalidArgument naming the key, as for a malformed key or value.
absl::StatusOr<std::map<std::string, std::string>> PodSysctls(const runtime::v1::PodSandboxConfig& config);

// The cgroup of the pod's infra process, or of a pod without one:
// <cgroup_parent or /crispd>/<sandbox id>.
std::string InfraCgroup(const runtime::v1::PodSandboxConfig& config, const std::string& sandbox_id);

}  // namespace crisp::crispd
