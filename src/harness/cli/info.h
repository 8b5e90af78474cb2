// `crisp info`: what a runtime says about itself.
#pragma once

#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "harness/client/call_record.h"
#include "harness/client/cri_client.h"
#include "harness/client/endpoint.h"
#include "nlohmann/json.hpp"
#include "runtime/v1/api.pb.h"

namespace crisp::cli {

// Version, then Status, RuntimeConfig and ImageFsInfo, kept as records, so
// that an Unimplemented RuntimeConfig (older runtimes) is shown, not fatal.
struct RuntimeInfo {
  client::Endpoint endpoint;
  runtime::v1::VersionResponse version;
  client::CallRecord status;
  client::CallRecord runtime_config;
  client::CallRecord image_fs_info;
};

// Calls Status, RuntimeConfig and ImageFsInfo on a runtime whose Version
// (the handshake) answered `version`.
RuntimeInfo GatherRuntimeInfo(client::CriClient& client, const client::Endpoint& endpoint,
                              const runtime::v1::VersionResponse& version,
                              absl::Duration timeout, bool verbose);

// A two-column table for people; `extra` rows go at its end.
void PrintInfoTable(const RuntimeInfo& info, std::ostream& out,
                    const std::vector<std::pair<std::string, std::string>>& extra = {});

// The same facts for machines: each RPC's response in protobuf JSON with
// api.proto field names, or {"error": {code, code_name, message}}.
nlohmann::json InfoToJson(const RuntimeInfo& info);

}  // namespace crisp::cli
