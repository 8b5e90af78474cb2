#include "harness/runner/kubelet.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include <filesystem>
#include <system_error>

#include "common/strings.h"

namespace crisp::runner::kubelet {

namespace fs = std::filesystem;

void InheritNamespaces(const nlohmann::json& sandbox_config, nlohmann::json& container_config) {
  const nlohmann::json* pod = &sandbox_config;
  for (const char* key : {"linux", "security_context", "namespace_options"}) {
    if (!pod->is_object() || !pod->contains(key)) return;
    pod = &(*pod)[key];
  }
  if (!pod->is_object() || !container_config.is_object()) return;
  nlohmann::json& options = container_config["linux"]["security_context"]["namespace_options"];
  if (options.is_null()) options = nlohmann::json::object();
  if (!options.is_object()) return;
  for (const char* mode : {"network", "pid", "ipc"}) {
    if (pod->contains(mode) && !options.contains(mode)) options[mode] = (*pod)[mode];
  }
}

namespace {

// A string field of config.metadata, or "" when there is none.
std::string MetadataField(const nlohmann::json& config, const char* field) {
  if (!config.is_object()) return "";
  auto metadata = config.find("metadata");
  if (metadata == config.end() || !metadata->is_object()) return "";
  auto value = metadata->find(field);
  return value != metadata->end() && value->is_string() ? value->get<std::string>() : "";
}

void SetLabel(nlohmann::json& config, const char* key, const std::string& value) {
  if (value.empty()) return;
  nlohmann::json& labels = config["labels"];
  if (labels.is_null()) labels = nlohmann::json::object();
  if (labels.is_object() && !labels.contains(key)) labels[key] = value;
}

void SetPodLabels(const nlohmann::json& sandbox_config, nlohmann::json& config) {
  SetLabel(config, "io.kubernetes.pod.name", MetadataField(sandbox_config, "name"));
  SetLabel(config, "io.kubernetes.pod.namespace", MetadataField(sandbox_config, "namespace"));
  SetLabel(config, "io.kubernetes.pod.uid", MetadataField(sandbox_config, "uid"));
}

}  // namespace

void AddSandboxLabels(nlohmann::json& sandbox_config) {
  if (sandbox_config.is_object()) SetPodLabels(sandbox_config, sandbox_config);
}

void AddContainerLabels(const nlohmann::json& sandbox_config, nlohmann::json& container_config) {
  if (!container_config.is_object()) return;
  SetPodLabels(sandbox_config, container_config);
  SetLabel(container_config, "io.kubernetes.container.name", MetadataField(container_config, "name"));
}

void AddLogPath(const nlohmann::json& sandbox_config, nlohmann::json& container_config) {
  if (!container_config.is_object() || PodLogDirectory(sandbox_config).empty()) return;
  auto found = container_config.find("log_path");
  if (found != container_config.end() && !(found->is_string() && found->get<std::string>().empty())) return;
  const std::string name = MetadataField(container_config, "name");
  if (name.empty()) return;
  int attempt = 0;
  if (container_config["metadata"].is_object()) {
    const nlohmann::json value = container_config["metadata"].value("attempt", nlohmann::json(0));
    if (value.is_number_integer()) attempt = value.get<int>();
  }
  container_config["log_path"] = crisp::StrCat(name, "/", attempt, ".log");
}

void AddContainerAnnotations(nlohmann::json& container_config) {
  if (!container_config.is_object()) return;
  nlohmann::json& annotations = container_config["annotations"];
  if (annotations.is_null()) annotations = nlohmann::json::object();
  if (!annotations.is_object()) return;
  // The kubelet's hash is of the pod spec's container; the parts of it a
  // ContainerConfig carries stand in: the same config, the same hash, in
  // every run and on every runtime.
  nlohmann::json spec = nlohmann::json::object();
  for (const char* key : {"metadata", "image", "command", "args", "working_dir", "envs", "tty", "stdin"}) {
    if (container_config.contains(key)) spec[key] = container_config[key];
  }
  if (spec.contains("metadata") && spec["metadata"].is_object()) spec["metadata"].erase("attempt");
  uint32_t hash = 2166136261u;  // FNV-1a, 32 bits, as the kubelet's hashes are
  for (char c : spec.dump()) hash = (hash ^ static_cast<unsigned char>(c)) * 16777619u;
  char hex[9];
  std::snprintf(hex, sizeof hex, "%x", hash);
  int attempt = 0;
  if (container_config.contains("metadata") && container_config["metadata"].is_object()) {
    const nlohmann::json& value = container_config["metadata"].value("attempt", nlohmann::json(0));
    if (value.is_number_integer()) attempt = value.get<int>();
  }
  const std::pair<const char*, std::string> kubelet_annotations[] = {
      {"io.kubernetes.container.hash", hex},
      {"io.kubernetes.container.restartCount", std::to_string(attempt)},
      {"io.kubernetes.container.terminationMessagePath", "/dev/termination-log"},
      {"io.kubernetes.container.terminationMessagePolicy", "File"},
      {"io.kubernetes.pod.terminationGracePeriod", "30"},
  };
  for (const auto& [key, value] : kubelet_annotations) {
    if (!annotations.contains(key)) annotations[key] = value;
  }
}

std::string PodLogDirectory(const nlohmann::json& sandbox_config) {
  if (!sandbox_config.is_object()) return "";
  const auto found = sandbox_config.find("log_directory");
  if (found == sandbox_config.end() || !found->is_string()) return "";
  return found->get<std::string>();
}

std::string ContainerLogDirectory(const nlohmann::json& sandbox_config, const nlohmann::json& container_config) {
  std::string pod_directory = PodLogDirectory(sandbox_config);
  if (pod_directory.empty() || !container_config.is_object()) return "";
  const auto found = container_config.find("log_path");
  if (found == container_config.end() || !found->is_string()) return "";
  fs::path log_path(found->get<std::string>());
  if (log_path.empty() || log_path.is_absolute()) return "";
  fs::path relative = log_path.lexically_normal();
  if (relative.empty() || *relative.begin() == "..") return "";
  fs::path parent = relative.parent_path();
  if (parent.empty()) return pod_directory;
  return (fs::path(pod_directory) / parent).string();
}

absl::Status MakeDirectory(const std::string& path) {
  std::error_code error;
  fs::path built;
  for (const fs::path& part : fs::path(path)) {
    built /= part;
    if (fs::is_directory(built, error)) continue;
    if (mkdir(built.c_str(), 0755) != 0 && errno != EEXIST) {
      return absl::InternalError(crisp::StrCat("cannot create ", built.string(), ": ", std::strerror(errno)));
    }
  }
  return absl::OkStatus();
}

}  // namespace crisp::runner::kubelet
