#include "harness/runner/capabilities.h"

#include <linux/magic.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/strings.h"
#include "harness/client/methods.h"
#include "harness/client/proto_json.h"
#include "harness/scenario/requirements.h"
#include "runtime/v1/api.pb.h"

namespace crisp::runner {
namespace {

std::string ReadSmallFile(const char* path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The response of a probe call as JSON, or null with the reason in `error`.
nlohmann::json ProbeCall(client::CriClient& client, std::string_view method,
                         const google::protobuf::Message& request, absl::Duration timeout, std::string& error) {
  client::CallRecord record = client.Call(**client::FindCriMethod(method), request, {.timeout = timeout});
  if (!record.ok()) {
    error = crisp::StrCat(client::GrpcCodeName(record.code), ": ", record.message);
    return nullptr;
  }
  error.clear();
  return client::ProtoToJson(*record.response);
}

// The condition of `type` in a StatusResponse: "true", "false" or "" when absent.
std::string Condition(const nlohmann::json& status, std::string_view type) {
  if (!status.is_object() || !status.contains("status")) return "";
  for (const nlohmann::json& condition : status["status"].value("conditions", nlohmann::json::array())) {
    if (condition.value("type", "") == type) return condition.value("status", false) ? "true" : "false";
  }
  return "";
}

}  // namespace

HostFacts HostFacts::Probe() {
  HostFacts facts;
  facts.root = geteuid() == 0;
  facts.apparmor = ReadSmallFile("/sys/module/apparmor/parameters/enabled").starts_with("Y");
  std::error_code error;
  facts.selinux = std::filesystem::exists("/sys/fs/selinux/enforce", error);
  facts.seccomp = ReadSmallFile("/proc/self/status").find("\nSeccomp:") != std::string::npos;
  struct statfs fs {};
  if (statfs("/sys/fs/cgroup", &fs) == 0 && static_cast<unsigned long>(fs.f_type) == CGROUP2_SUPER_MAGIC) {
    facts.cgroup_v2 = true;
  } else {
    facts.cgroup_v1 = std::filesystem::exists("/sys/fs/cgroup/memory", error) ||
                      std::filesystem::exists("/sys/fs/cgroup/cpu", error);
  }
  return facts;
}

nlohmann::json HostFacts::ToJson() const {
  return {{"root", root},         {"apparmor", apparmor},   {"selinux", selinux},
          {"seccomp", seccomp},   {"cgroup_v1", cgroup_v1}, {"cgroup_v2", cgroup_v2}};
}

Capabilities Capabilities::Probe(client::CriClient& client, absl::Duration timeout,
                                 const std::string& socket_path) {
  Capabilities capabilities;
  capabilities.host = HostFacts::Probe();
  capabilities.node = NodeView::Probe(socket_path);
  runtime::v1::StatusRequest status;
  status.set_verbose(false);
  capabilities.status = ProbeCall(client, "Status", status, timeout, capabilities.status_error);
  capabilities.runtime_config = ProbeCall(client, "RuntimeConfig", runtime::v1::RuntimeConfigRequest(), timeout,
                                          capabilities.runtime_config_error);
  return capabilities;
}

std::string Capabilities::Unmet(std::string_view requirement) const {
  auto host_fact = [](bool met, std::string_view missing) { return met ? std::string() : std::string(missing); };
  if (requirement == "root") return host_fact(host.root, crisp::StrCat("crisp runs as uid ", geteuid(), ", not root"));
  if (requirement == "apparmor") return host_fact(host.apparmor, "the host has no AppArmor");
  if (requirement == "selinux") return host_fact(host.selinux, "the host has no SELinux");
  if (requirement == "seccomp") return host_fact(host.seccomp, "the host kernel has no seccomp");
  if (requirement == "cgroup-v1") return host_fact(host.cgroup_v1, "the host has no cgroup v1 controllers");
  if (requirement == "cgroup-v2") return host_fact(host.cgroup_v2, "the host does not run cgroup v2 only");

  if (requirement == "runtime-ready" || requirement == "network-ready") {
    std::string_view type = requirement == "runtime-ready" ? "RuntimeReady" : "NetworkReady";
    if (status.is_null()) return crisp::StrCat("Status did not answer (", status_error, ")");
    std::string value = Condition(status, type);
    return value == "true" ? "" : crisp::StrCat("Status reports ", type, " ", value.empty() ? "absent" : value);
  }
  if (requirement == "runtime-config" || requirement.starts_with("cgroup-driver:")) {
    if (runtime_config.is_null()) return crisp::StrCat("RuntimeConfig did not answer (", runtime_config_error, ")");
    if (requirement == "runtime-config") return "";
    std::string want = crisp::StrCat(requirement.substr(requirement.find(':') + 1));
    std::string driver = runtime_config.contains("linux") ? runtime_config["linux"].value("cgroup_driver", "") : "";
    for (char& c : driver) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return driver == want ? "" : crisp::StrCat("the runtime's cgroup driver is ", driver.empty() ? "unknown" : driver);
  }
  if (requirement.starts_with("node-")) return node.Unshared(requirement);
  if (requirement.starts_with("handler-feature:")) {
    std::string feature = crisp::StrCat(requirement.substr(requirement.find(':') + 1));
    for (char& c : feature) c = c == '-' ? '_' : c;
    if (status.is_null()) return crisp::StrCat("Status did not answer (", status_error, ")");
    for (const nlohmann::json& handler : status.value("runtime_handlers", nlohmann::json::array())) {
      if (handler.value("name", "") != "") continue;
      bool has = handler.contains("features") && handler["features"].value(feature, false);
      return has ? "" : crisp::StrCat("the default runtime handler lacks ", feature);
    }
    return "Status lists no runtime handlers (features unknown)";
  }
  if (requirement.starts_with("runtime-feature:")) {
    std::string feature = crisp::StrCat(requirement.substr(requirement.find(':') + 1));
    for (char& c : feature) c = c == '-' ? '_' : c;
    if (status.is_null()) return crisp::StrCat("Status did not answer (", status_error, ")");
    bool has = status.contains("features") && status["features"].value(feature, false);
    return has ? "" : crisp::StrCat("Status does not report features.", feature);
  }
  return crisp::StrCat("unknown requirement \"", requirement, "\"");
}

nlohmann::json Capabilities::ToJson() const {
  nlohmann::json met = nlohmann::json::object();
  for (const scenario::Requirement& requirement : scenario::Requirements()) {
    met[std::string(requirement.name)] = Unmet(requirement.name).empty();
  }
  nlohmann::json out = {{"host", host.ToJson()},  {"node_namespaces", node.ToJson()}, {"status", status}, {"runtime_config", runtime_config}, {"met", met}};
  if (status.is_null()) out["status_error"] = status_error;
  if (runtime_config.is_null()) out["runtime_config_error"] = runtime_config_error;
  return out;
}

bool IsHarnessRequirement(std::string_view requirement) { return requirement == "root"; }

}  // namespace crisp::runner
