#include "harness/scenario/requirements.h"

#include <algorithm>
#include <array>

namespace crisp::scenario {
namespace {

constexpr std::array kRequirements = {
    Requirement{"root", "crisp itself runs as root (host-side steps need it); unmet: skip"},
    Requirement{"apparmor", "AppArmor is enabled on the host"},
    Requirement{"selinux", "SELinux is enabled on the host"},
    Requirement{"seccomp", "the host kernel has seccomp filters"},
    Requirement{"cgroup-v1", "the host mounts cgroup v1 controllers (legacy or hybrid)"},
    Requirement{"cgroup-v2", "the host runs the unified cgroup v2 hierarchy only"},
    Requirement{"runtime-ready", "Status reports RuntimeReady true"},
    Requirement{"network-ready", "Status reports NetworkReady true"},
    Requirement{"runtime-config", "the runtime implements RuntimeConfig"},
    Requirement{"cgroup-driver:systemd", "RuntimeConfig reports the systemd cgroup driver"},
    Requirement{"cgroup-driver:cgroupfs", "RuntimeConfig reports the cgroupfs cgroup driver"},
    Requirement{"handler-feature:recursive-read-only-mounts",
                "Status lists the default runtime handler with recursive read-only mounts"},
    Requirement{"handler-feature:user-namespaces",
                "Status lists the default runtime handler with user namespaces"},
    Requirement{"runtime-feature:supplemental-groups-policy",
                "Status reports features.supplemental_groups_policy (the runtime honours the policy)"},
    Requirement{"runtime-feature:user-namespaces-host-network",
                "Status reports features.user_namespaces_host_network"},
    Requirement{"node-mount-namespace",
                "crisp sees the runtime's files: same mount namespace (implied by host steps on paths)"},
    Requirement{"node-pod-logs",
                "crisp sees the node's pod log directories (/tmp/crisp/pods): same mount namespace, or that path "
                "mounted from the node (implied by log steps)"},
    Requirement{"node-network-namespace",
                "crisp reaches what the runtime reaches: same network namespace (implied by host steps that "
                "listen, dial or stream)"},
    Requirement{"node-pid-namespace", "crisp sees the runtime's processes: same PID namespace"},
    Requirement{"node-ipc-namespace", "crisp shares the runtime's IPC namespace"},
};

}  // namespace

std::span<const Requirement> Requirements() { return kRequirements; }

bool IsKnownRequirement(std::string_view name) {
  return std::any_of(kRequirements.begin(), kRequirements.end(),
                     [&](const Requirement& requirement) { return requirement.name == name; });
}

}  // namespace crisp::scenario
