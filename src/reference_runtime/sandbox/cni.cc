#include "reference_runtime/sandbox/cni.h"

#include <filesystem>

#include "absl/status/status.h"
#include "common/strings.h"
#include "reference_runtime/state/atomic_file.h"
#include "reference_runtime/host/process.h"
#include "reference_runtime/host/stage_clock.h"

namespace crisp::crispd {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::vector<std::string> ConfigFiles(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    std::string extension = entry.path().extension().string();
    if (extension == ".conflist") files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

absl::Status Cni::EnsureDefaultNetwork() {
  std::error_code error;
  fs::create_directories(config_.conf_dir, error);
  if (error) return absl::InternalError(crisp::StrCat("cannot create ", config_.conf_dir, ": ", error.message()));
  if (!ConfigFiles(config_.conf_dir).empty()) return absl::OkStatus();
  return WriteFileAtomically(config_.conf_dir + "/10-crispd.conflist", DefaultNetwork().dump(2) + "\n");
}

json Cni::DefaultNetwork() const {
  json ipam = {{"type", "host-local"}, {"ranges", {{{{"subnet", config_.subnet}}}}}, {"routes", {{{"dst", "0.0.0.0/0"}}}}};
  if (!config_.ipam_dir.empty()) ipam["dataDir"] = config_.ipam_dir;
  return {{"cniVersion", "0.4.0"},
          {"name", "crispd"},
          {"plugins",
           {{{"type", "bridge"}, {"bridge", config_.bridge}, {"isGateway", true}, {"ipMasq", false},
             {"hairpinMode", true}, {"ipam", ipam}},
            {{"type", "portmap"}, {"capabilities", {{"portMappings", true}}}}}}};
}

bool Cni::UsesDefaultNetwork() const {
  absl::StatusOr<json> network = Network();
  return network.ok() && *network == DefaultNetwork();
}

absl::StatusOr<json> Cni::RunPlugin(const std::string& command, const std::string& type, const std::string& id,
                                    const std::string& netns, const json& prev_result, const json& port_mappings) {
  absl::StatusOr<json> network = Network();
  if (!network.ok()) return network.status();
  for (const json& plugin : (*network)["plugins"]) {
    if (plugin.value("type", "") == type) {
      return Exec(command, plugin, *network, id, netns, "eth0", prev_result, port_mappings);
    }
  }
  return absl::NotFoundError(crisp::StrCat("the network has no ", type, " plugin"));
}

absl::StatusOr<json> Cni::Network() const {
  std::vector<std::string> files = ConfigFiles(config_.conf_dir);
  if (files.empty()) return absl::FailedPreconditionError(crisp::StrCat("no *.conflist in ", config_.conf_dir));
  absl::StatusOr<std::string> text = ReadFile(files.front());
  if (!text.ok()) return text.status();
  json network = json::parse(*text, nullptr, false);
  if (!network.is_object() || !network.contains("plugins")) {
    return absl::InvalidArgumentError(crisp::StrCat(files.front(), " is not a CNI network configuration list"));
  }
  return network;
}

bool Cni::Ready(std::string* why) const {
  absl::StatusOr<json> network = Network();
  if (!network.ok()) {
    *why = std::string(crisp::View(network.status().message()));
    return false;
  }
  for (const json& plugin : (*network)["plugins"]) {
    std::string binary = crisp::StrCat(config_.bin_dir, "/", plugin.value("type", ""));
    if (!fs::exists(binary)) {
      *why = crisp::StrCat("CNI plugin ", binary, " is missing");
      return false;
    }
  }
  return true;
}

absl::StatusOr<json> Cni::Exec(const std::string& command, const json& plugin, const json& network,
                               const std::string& id, const std::string& netns, const std::string& ifname,
                               const json& prev_result, const json& port_mappings) {
  json conf = plugin;
  conf["cniVersion"] = network.value("cniVersion", "0.4.0");
  conf["name"] = network.value("name", "crispd");
  if (!prev_result.is_null()) conf["prevResult"] = prev_result;
  if (plugin.value("capabilities", json::object()).value("portMappings", false) && !port_mappings.empty()) {
    conf["runtimeConfig"] = {{"portMappings", port_mappings}};
  }
  std::string type = plugin.value("type", "");
  absl::StatusOr<ProcessResult> result = RunProcess(
      {crisp::StrCat(config_.bin_dir, "/", type)},
      {"CNI_COMMAND=" + command, "CNI_CONTAINERID=" + id, "CNI_NETNS=" + netns, "CNI_IFNAME=" + ifname,
       "CNI_PATH=" + config_.bin_dir, "PATH=/usr/sbin:/usr/bin:/sbin:/bin"},
      conf.dump());
  Stage(crisp::StrCat("cni.", type, ".", command));
  if (!result.ok()) return result.status();
  if (result->exit_code != 0) {
    json error = json::parse(result->stdout_text, nullptr, false);
    std::string message = error.is_object() ? error.value("msg", "") + (error.contains("details") ? ": " + error.value("details", "") : "")
                                            : result->stderr_text + result->stdout_text;
    return absl::InternalError(crisp::StrCat("CNI plugin ", type, " ", command, " failed: ", message));
  }
  if (command == "DEL" || result->stdout_text.empty()) return json();
  json parsed = json::parse(result->stdout_text, nullptr, false);
  if (parsed.is_discarded()) return absl::InternalError(crisp::StrCat("CNI plugin ", type, " printed no JSON result"));
  return parsed;
}

absl::StatusOr<std::string> Cni::Add(const std::string& id, const std::string& netns, const json& port_mappings) {
  absl::StatusOr<json> network = Network();
  if (!network.ok()) return network.status();
  json loopback_network = {{"cniVersion", (*network).value("cniVersion", "0.4.0")}, {"name", "lo"}};
  absl::StatusOr<json> lo = Exec("ADD", {{"type", "loopback"}}, loopback_network, id, netns, "lo", nullptr, json());
  if (!lo.ok()) return lo.status();
  json result;
  for (const json& plugin : (*network)["plugins"]) {
    absl::StatusOr<json> next = Exec("ADD", plugin, *network, id, netns, "eth0", result, port_mappings);
    if (!next.ok()) {
      Del(id, netns, port_mappings).IgnoreError();  // undo what was done
      return next.status();
    }
    if (!next->is_null()) result = *next;
  }
  for (const json& ip : result.value("ips", json::array())) {
    std::string address = ip.value("address", "");
    if (address.find(':') == std::string::npos) return address.substr(0, address.find('/'));
  }
  return absl::InternalError("CNI gave the pod no IPv4 address");
}

absl::Status Cni::Del(const std::string& id, const std::string& netns, const json& port_mappings) {
  absl::StatusOr<json> network = Network();
  if (!network.ok()) return network.status();
  const json& plugins = (*network)["plugins"];
  absl::Status first_error;
  for (auto it = plugins.rbegin(); it != plugins.rend(); ++it) {
    absl::StatusOr<json> done = Exec("DEL", *it, *network, id, netns, "eth0", nullptr, port_mappings);
    if (!done.ok() && first_error.ok()) first_error = done.status();
  }
  return first_error;
}

}  // namespace crisp::crispd
