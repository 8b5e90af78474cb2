// What a runtime and the host under it can do, read before a run: Status
// (conditions, runtime handlers and their features), RuntimeConfig (the
// cgroup driver) and a few host facts. Scenarios name what they need in
// `requires:`; this decides whether the run meets it.
#pragma once

#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "harness/client/cri_client.h"
#include "harness/runner/node.h"
#include "nlohmann/json.hpp"

namespace crisp::runner {

// Facts about the host crisp runs on. Host-side requirements assume the
// runtime runs on the same host, as every endpoint crisp reaches (a unix
// socket) does.
struct HostFacts {
  bool root = false;
  bool apparmor = false;
  bool selinux = false;
  bool seccomp = false;
  bool cgroup_v1 = false;  // legacy or hybrid: v1 controllers are mounted
  bool cgroup_v2 = false;  // unified only

  static HostFacts Probe();
  nlohmann::json ToJson() const;
};

struct Capabilities {
  HostFacts host;
  // Which of the runtime's namespaces crisp shares (node-*-namespace).
  NodeView node;
  // The StatusResponse (not verbose) and RuntimeConfigResponse as JSON; null
  // when the call did not answer OK, with the gRPC code and message in
  // *_error ("Unimplemented: ...").
  nlohmann::json status;
  std::string status_error = "not probed";
  nlohmann::json runtime_config;
  std::string runtime_config_error = "not probed";

  // Calls Status and RuntimeConfig (each with `timeout`) and probes the
  // host, and through `socket_path` ("" for the bundled runtime) what crisp
  // shares of the runtime's namespaces.
  static Capabilities Probe(client::CriClient& client, absl::Duration timeout, const std::string& socket_path);

  // "" when the requirement is met; otherwise why not, in words fit for a
  // report ("the host has no AppArmor").
  std::string Unmet(std::string_view requirement) const;

  // {"host": {...}, "node_namespaces": {...}, "status": ..., "runtime_config": ..., "met": {requirement: bool}}
  nlohmann::json ToJson() const;
};

// Requirements about crisp itself rather than the system under test:
// unmet, they make a scenario `skip`, not `n.a.`.
bool IsHarnessRequirement(std::string_view requirement);

}  // namespace crisp::runner
