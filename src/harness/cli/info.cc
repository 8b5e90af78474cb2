#include "harness/cli/info.h"

#include <algorithm>
#include <cctype>
#include <string>
#include <utility>
#include <vector>

#include "common/units.h"
#include "harness/client/proto_json.h"
#include "common/strings.h"

namespace crisp::cli {
namespace {

namespace v1 = runtime::v1;
using client::CallRecord;

template <typename Response>
const Response* ResponseOf(const CallRecord& record) {
  if (!record.ok() || record.response == nullptr) return nullptr;
  return dynamic_cast<const Response*>(record.response.get());
}

CallRecord CallByName(client::CriClient& client, std::string_view method,
                      const google::protobuf::Message& request,
                      absl::Duration timeout) {
  const client::MethodDescriptor* descriptor = *client::FindCriMethod(method);
  return client.Call(*descriptor, request, {.timeout = timeout});
}

std::string FailureText(const CallRecord& record) {
  return crisp::StrCat("unknown (", record.method, ": ",
                      client::GrpcCodeName(record.code),
                      record.message.empty() ? "" : ": ", record.message, ")");
}

// Rows of a two-column table; the first column is padded to the widest key.
class Table {
 public:
  void Add(std::string key, std::string value) {
    rows_.emplace_back(std::move(key), std::move(value));
  }
  void Print(std::ostream& out) const {
    size_t width = 0;
    for (const auto& [key, value] : rows_) width = std::max(width, key.size());
    for (const auto& [key, value] : rows_) {
      out << key << std::string(width - key.size() + 2, ' ') << value << '\n';
    }
  }

 private:
  std::vector<std::pair<std::string, std::string>> rows_;
};

std::string ConditionText(const v1::RuntimeCondition& condition) {
  std::string text = condition.status() ? "true" : "false";
  if (!condition.reason().empty() || !condition.message().empty()) {
    crisp::StrAppend(&text, "  (", condition.reason(),
                    condition.reason().empty() || condition.message().empty() ? "" : ": ",
                    condition.message(), ")");
  }
  return text;
}

std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string YesNo(bool value) { return value ? "yes" : "no"; }

void AddStatusRows(const CallRecord& record, Table& table) {
  const auto* status = ResponseOf<v1::StatusResponse>(record);
  if (status == nullptr) {
    table.Add("Conditions", FailureText(record));
    return;
  }
  if (status->status().conditions().empty()) {
    table.Add("Conditions", "none reported");
  }
  for (const v1::RuntimeCondition& condition : status->status().conditions()) {
    table.Add(condition.type(), ConditionText(condition));
  }
  for (const v1::RuntimeHandler& handler : status->runtime_handlers()) {
    table.Add(crisp::StrCat("Handler ", handler.name().empty() ? "(default)" : handler.name()),
              crisp::StrCat("recursive read-only mounts: ",
                           YesNo(handler.features().recursive_read_only_mounts()),
                           ", user namespaces: ",
                           YesNo(handler.features().user_namespaces())));
  }
  if (status->has_features()) {
    table.Add("Features",
              crisp::StrCat("supplemental groups policy: ",
                           YesNo(status->features().supplemental_groups_policy()),
                           ", user namespaces with host network: ",
                           YesNo(status->features().user_namespaces_host_network())));
  }
  for (const auto& [key, value] : status->info()) {
    table.Add(crisp::StrCat("Info ", key), value);
  }
}

void AddFilesystemRows(std::string_view label,
                       const google::protobuf::RepeatedPtrField<v1::FilesystemUsage>& filesystems,
                       Table& table) {
  for (const v1::FilesystemUsage& fs : filesystems) {
    std::string value = fs.fs_id().mountpoint().empty() ? "(no mountpoint)"
                                                        : fs.fs_id().mountpoint();
    crisp::StrAppend(&value, "  used ",
                    fs.has_used_bytes() ? FormatBytes(fs.used_bytes().value()) : "?",
                    ", inodes ",
                    fs.has_inodes_used() ? crisp::StrCat(fs.inodes_used().value()) : "?");
    table.Add(std::string(label), value);
  }
}

nlohmann::json RecordJson(const CallRecord& record) {
  if (record.ok() && record.response != nullptr) {
    return client::ProtoToJson(*record.response);
  }
  return {{"error",
           {{"code", static_cast<int>(record.code)},
            {"code_name", client::GrpcCodeName(record.code)},
            {"message", record.message}}}};
}

}  // namespace

RuntimeInfo GatherRuntimeInfo(client::CriClient& client, const client::Endpoint& endpoint,
                              const v1::VersionResponse& version, absl::Duration timeout,
                              bool verbose) {
  RuntimeInfo info;
  info.endpoint = endpoint;
  info.version = version;
  v1::StatusRequest status_request;
  status_request.set_verbose(verbose);
  info.status = CallByName(client, "Status", status_request, timeout);
  info.runtime_config =
      CallByName(client, "RuntimeConfig", v1::RuntimeConfigRequest(), timeout);
  info.image_fs_info =
      CallByName(client, "ImageFsInfo", v1::ImageFsInfoRequest(), timeout);
  return info;
}

void PrintInfoTable(const RuntimeInfo& info, std::ostream& out,
                    const std::vector<std::pair<std::string, std::string>>& extra) {
  Table table;
  table.Add("Endpoint", crisp::StrCat(info.endpoint.Display(), "  (", info.endpoint.name, ")"));
  table.Add("Runtime", crisp::StrCat(info.version.runtime_name(), " ",
                                    info.version.runtime_version()));
  table.Add("CRI API", info.version.runtime_api_version());
  AddStatusRows(info.status, table);

  if (const auto* config = ResponseOf<v1::RuntimeConfigResponse>(info.runtime_config)) {
    table.Add("Cgroup driver",
              config->has_linux()
                  ? Lower(v1::CgroupDriver_Name(config->linux().cgroup_driver()))
                  : "not reported");
  } else {
    table.Add("Cgroup driver", FailureText(info.runtime_config));
  }

  if (const auto* fs = ResponseOf<v1::ImageFsInfoResponse>(info.image_fs_info)) {
    AddFilesystemRows("Image fs", fs->image_filesystems(), table);
    AddFilesystemRows("Container fs", fs->container_filesystems(), table);
    if (fs->image_filesystems().empty() && fs->container_filesystems().empty()) {
      table.Add("Image fs", "none reported");
    }
  } else {
    table.Add("Image fs", FailureText(info.image_fs_info));
  }
  for (const auto& [key, value] : extra) table.Add(key, value);
  table.Print(out);
}

nlohmann::json InfoToJson(const RuntimeInfo& info) {
  return {
      {"endpoint", {{"name", info.endpoint.name}, {"address", info.endpoint.Display()}}},
      {"version", client::ProtoToJson(info.version)},
      {"status", RecordJson(info.status)},
      {"runtime_config", RecordJson(info.runtime_config)},
      {"image_fs_info", RecordJson(info.image_fs_info)},
  };
}

}  // namespace crisp::cli
