// What the kubelet does around a CRI call that a runtime may rely on, done
// by crisp in its place so every request is one a kubelet could send.
// docs/kubelet-fidelity.md lists each item with the kubelet code that does it.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"

namespace crisp::runner::kubelet {

// The kubelet derives a pod's and each of its containers' namespace modes
// from one pod spec (NamespacesForPod), so they agree. Every mode of
// `network`, `pid` and `ipc` that `container_config` leaves unset takes the
// sandbox's; modes the container sets stay as they are.
void InheritNamespaces(const nlohmann::json& sandbox_config, nlohmann::json& container_config);

// The labels the kubelet puts on every sandbox (io.kubernetes.pod.name,
// .namespace, .uid, from its metadata) and container (the pod's three and
// io.kubernetes.container.name), which tools such as crictl show and the
// kubelet reads back (kuberuntime labels.go). Labels the config already has
// keep their values.
void AddSandboxLabels(nlohmann::json& sandbox_config);
void AddContainerLabels(const nlohmann::json& sandbox_config, nlohmann::json& container_config);

// The log_path the kubelet gives every container, `<name>/<attempt>.log`
// (kuberuntime buildContainerLogsPath), when the config has none and the
// pod has a log_directory.
void AddLogPath(const nlohmann::json& sandbox_config, nlohmann::json& container_config);

// The annotations the kubelet puts on every container (kuberuntime
// labels.go newContainerAnnotations): io.kubernetes.container.hash (a hex
// hash of the container's spec), .restartCount (metadata.attempt),
// .terminationMessagePath and .terminationMessagePolicy (the pod spec's
// defaults), and io.kubernetes.pod.terminationGracePeriod (30 s, the
// default). Annotations the config already has keep their values.
void AddContainerAnnotations(nlohmann::json& container_config);

// The directory the kubelet creates before RunPodSandbox: the config's
// log_directory ("" when it has none).
std::string PodLogDirectory(const nlohmann::json& sandbox_config);

// The directory the kubelet creates before CreateContainer: the one the
// container's log file goes in, <log_directory>/<container name> for the
// kubelet's own log_path. "" when there is no log file, or when log_path
// is absolute or climbs out of the pod's log directory (hostile requests
// are the runtime's to refuse; crisp makes nothing outside the pod's).
std::string ContainerLogDirectory(const nlohmann::json& sandbox_config, const nlohmann::json& container_config);

// mkdir -p with mode 0755, as the kubelet does.
absl::Status MakeDirectory(const std::string& path);

}  // namespace crisp::runner::kubelet
