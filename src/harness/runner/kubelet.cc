#include "harness/runner/kubelet.h"

#include <sys/stat.h>

#include <cerrno>
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
