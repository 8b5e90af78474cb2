// CallRecord: what one RPC sent and what the runtime answered, kept as data
// (messages, codes, times) so that reports and diffs can use it later.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "google/protobuf/message.h"
#include "nlohmann/json.hpp"

namespace crisp::client {

struct CallRecord {
  std::string service;  // "runtime.v1.RuntimeService"
  std::string method;   // "Version"
  std::shared_ptr<const google::protobuf::Message> request;
  // The response when code is OK; null otherwise.
  std::shared_ptr<const google::protobuf::Message> response;
  // The gRPC status. absl::StatusCode has gRPC's numbering.
  absl::StatusCode code = absl::StatusCode::kOk;
  std::string message;
  // Whether a gRPC connection to the runtime was up when the call ended. A
  // deadline on a connection never made means "not gRPC", not "slow".
  bool transport_ready = true;
  std::chrono::system_clock::time_point start;
  std::chrono::nanoseconds latency{0};

  bool ok() const { return code == absl::StatusCode::kOk; }
  absl::Status status() const { return absl::Status(code, message); }
};

// The gRPC name of a code, as grpc-go and crictl print it: "NotFound",
// "DeadlineExceeded", ...; "OK" for kOk.
std::string_view GrpcCodeName(absl::StatusCode code);

// JSON form of a record: messages as ProtoToJson gives them, the code by
// number and by name, the start in RFC 3339, the latency in nanoseconds.
nlohmann::json ToJson(const CallRecord& record);

// Receives each record as a call completes. Implementations are thread-safe:
// calls may complete on several threads at once.
class CallRecorder {
 public:
  virtual ~CallRecorder() = default;
  virtual void Record(const CallRecord& record) = 0;
};

// Keeps every record in memory, in completion order.
class MemoryCallRecorder final : public CallRecorder {
 public:
  void Record(const CallRecord& record) override;
  std::vector<CallRecord> Records() const;

 private:
  mutable std::mutex mutex_;
  std::vector<CallRecord> records_;
};

}  // namespace crisp::client
