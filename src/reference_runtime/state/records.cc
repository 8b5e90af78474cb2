#include "reference_runtime/state/records.h"

#include <filesystem>
#include <iostream>

#include "absl/status/status.h"
#include "common/strings.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"
#include "reference_runtime/state/atomic_file.h"

namespace crisp::crispd {

namespace fs = std::filesystem;

namespace {

const google::protobuf::FieldDescriptor* VersionField(const google::protobuf::Message& record) {
  const google::protobuf::FieldDescriptor* field = record.GetDescriptor()->FindFieldByName("version");
  return field != nullptr && field->type() == google::protobuf::FieldDescriptor::TYPE_UINT32 ? field : nullptr;
}

}  // namespace

absl::Status WriteRecord(const std::string& path, google::protobuf::Message& record) {
  if (const auto* version = VersionField(record)) record.GetReflection()->SetUInt32(&record, version, kRecordVersion);
  std::string text;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  if (auto printed = google::protobuf::util::MessageToJsonString(record, &text, options); !printed.ok()) {
    return absl::InternalError(crisp::StrCat("crispd bug: cannot print a ", record.GetTypeName(), ": ",
                                             std::string(printed.message())));
  }
  return WriteFileAtomically(path, text);
}

absl::Status ReadRecord(const std::string& path, google::protobuf::Message* record) {
  if (!fs::exists(path)) return absl::NotFoundError(crisp::StrCat(path, " does not exist"));
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return absl::DataLossError(crisp::StrCat(path, ": ", text.status().message()));
  if (auto parsed = google::protobuf::util::JsonStringToMessage(*text, record); !parsed.ok()) {
    std::string why(parsed.message());  // protobuf's parser adds a line with a caret: keep the first
    why = why.substr(0, why.find('\n'));
    return absl::DataLossError(crisp::StrCat(path, " is not a ", record->GetTypeName(), ": ", why));
  }
  if (const auto* version = VersionField(*record)) {
    uint32_t written = record->GetReflection()->GetUInt32(*record, version);
    if (written > kRecordVersion) {
      return absl::FailedPreconditionError(crisp::StrCat(path, " has record version ", written, "; this crispd reads up to ",
                                                         kRecordVersion, ": use the crispd that wrote it"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Quarantine(const std::string& state_dir, const std::string& kind, const std::string& dir) {
  fs::path target = fs::path(state_dir) / "quarantine" / crisp::StrCat(kind, "-", fs::path(dir).filename().string());
  std::error_code error;
  fs::create_directories(target.parent_path(), error);
  for (int n = 1; fs::exists(target); ++n) {
    target = fs::path(state_dir) / "quarantine" / crisp::StrCat(kind, "-", fs::path(dir).filename().string(), ".", n);
  }
  fs::rename(dir, target, error);
  if (error) return absl::InternalError(crisp::StrCat("cannot move ", dir, " to ", target.string(), ": ", error.message()));
  return target.string();
}

absl::Status LoadRecordOrSetAside(const std::string& state_dir, const std::string& kind, const std::string& dir,
                                  const std::string& file, google::protobuf::Message* record) {
  absl::Status read = ReadRecord(dir + "/" + file, record);
  if (read.ok() || absl::IsNotFound(read)) return read;
  std::string what = "left in place, not loaded";
  if (absl::IsDataLoss(read)) {  // never loaded as an empty one: set aside for a person
    absl::StatusOr<std::string> moved = Quarantine(state_dir, kind, dir);
    what = moved.ok() ? "moved to " + *moved : std::string(moved.status().message());
  }
  std::cerr << "crispd: " << read.message() << "; " << what << std::endl;
  return read;
}

nlohmann::json CniPortMappings(const ::crispd::state::v1::SandboxRecord& record) {
  nlohmann::json mappings = nlohmann::json::array();
  for (const auto& port : record.port_mappings()) {
    mappings.push_back({{"hostPort", port.host_port()},
                        {"containerPort", port.container_port()},
                        {"protocol", port.protocol()},
                        {"hostIP", port.host_ip()}});
  }
  return mappings;
}

}  // namespace crisp::crispd
