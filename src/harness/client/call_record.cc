#include "harness/client/call_record.h"

#include <string>

#include "absl/time/time.h"
#include "harness/client/proto_json.h"

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
  json["request"] = record.request ? ProtoToJson(*record.request) : nullptr;
  // Registry credentials (PullImageRequest.auth) never reach a report.
  if (json["request"].is_object() && json["request"].contains("auth")) {
    for (const char* secret : {"password", "auth", "identity_token", "registry_token"}) {
      nlohmann::json& value = json["request"]["auth"][secret];
      if (value.is_string() && !value.get<std::string>().empty()) value = "<redacted>";
    }
  }
  json["response"] = record.response ? ProtoToJson(*record.response) : nullptr;
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
