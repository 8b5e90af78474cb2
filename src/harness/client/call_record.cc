#include "harness/client/call_record.h"

#include <string>

#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"

namespace crisp::client {

std::string_view GrpcCodeName(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk: return "OK";
    case absl::StatusCode::kCancelled: return "Canceled";
    case absl::StatusCode::kUnknown: return "Unknown";
    case absl::StatusCode::kInvalidArgument: return "InvalidArgument";
    case absl::StatusCode::kDeadlineExceeded: return "DeadlineExceeded";
    case absl::StatusCode::kNotFound: return "NotFound";
    case absl::StatusCode::kAlreadyExists: return "AlreadyExists";
    case absl::StatusCode::kPermissionDenied: return "PermissionDenied";
    case absl::StatusCode::kResourceExhausted: return "ResourceExhausted";
    case absl::StatusCode::kFailedPrecondition: return "FailedPrecondition";
    case absl::StatusCode::kAborted: return "Aborted";
    case absl::StatusCode::kOutOfRange: return "OutOfRange";
    case absl::StatusCode::kUnimplemented: return "Unimplemented";
    case absl::StatusCode::kInternal: return "Internal";
    case absl::StatusCode::kUnavailable: return "Unavailable";
    case absl::StatusCode::kDataLoss: return "DataLoss";
    case absl::StatusCode::kUnauthenticated: return "Unauthenticated";
    default: return "Code?";
  }
}

nlohmann::json MessageToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  // Defaults are printed so that every record of one message type has the
  // same shape; unset message fields stay absent.
  options.always_print_primitive_fields = true;
  std::string text;
  auto status = google::protobuf::util::MessageToJsonString(message, &text, options);
  if (!status.ok()) {
    // Only possible for messages with unresolvable Any fields, which the CRI
    // API has none of; keep the failure visible rather than drop data.
    return {{"json_error", std::string(status.message())}};
  }
  return nlohmann::json::parse(text);
}

nlohmann::json ToJson(const CallRecord& record) {
  nlohmann::json json = {
      {"service", record.service},
      {"method", record.method},
      {"code", static_cast<int>(record.code)},
      {"code_name", GrpcCodeName(record.code)},
      {"start", absl::FormatTime(absl::RFC3339_full, absl::FromChrono(record.start),
                                 absl::UTCTimeZone())},
      {"latency_ns", record.latency.count()},
  };
  if (!record.message.empty()) json["message"] = record.message;
  if (!record.transport_ready) json["transport_ready"] = false;
  json["request"] = record.request ? MessageToJson(*record.request) : nullptr;
  json["response"] = record.response ? MessageToJson(*record.response) : nullptr;
  return json;
}

void MemoryCallRecorder::Record(const CallRecord& record) {
  std::lock_guard lock(mutex_);
  records_.push_back(record);
}

std::vector<CallRecord> MemoryCallRecorder::Records() const {
  std::lock_guard lock(mutex_);
  return records_;
}

}  // namespace crisp::client
