// CriClient: calls CRI v1 RPCs on one runtime and records every call.
#pragma once

#include <atomic>
#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "harness/client/call_record.h"
#include "harness/client/endpoint.h"
#include "harness/client/methods.h"
#include "common/strings.h"

namespace crisp::client {

// Deadline for a call when neither the caller nor --timeout gives one. Long
// enough for a loaded runtime's Status, short enough that a hung runtime is
// reported promptly; slow RPCs (PullImage) pass their own.
inline constexpr absl::Duration kDefaultCallTimeout = absl::Seconds(10);

struct CallOptions {
  // Zero means the client's default deadline.
  absl::Duration timeout = absl::ZeroDuration();
  // When set (by a signal handler, say) while the call is in flight, the
  // call is cancelled and ends with Canceled. May be null.
  const std::atomic<bool>* cancel = nullptr;
};

class CriClient {
 public:
  virtual ~CriClient() = default;

  // Calls one unary RPC. Never fails in C++ terms: whatever the runtime (or
  // the transport) answered is in the record, which is also handed to the
  // recorder. A request of the wrong type is recorded as InvalidArgument
  // without being sent.
  virtual CallRecord Call(const MethodDescriptor& method,
                          const google::protobuf::Message& request,
                          const CallOptions& options = {}) = 0;
};

// Calls `method` (any name FindCriMethod accepts) and returns the typed
// response, or the call's status.
template <typename Response>
absl::StatusOr<Response> CallAs(CriClient& client, std::string_view method,
                                const google::protobuf::Message& request,
                                const CallOptions& options = {}) {
  absl::StatusOr<const MethodDescriptor*> found = FindCriMethod(method);
  if (!found.ok()) return found.status();
  CallRecord record = client.Call(**found, request, options);
  if (!record.ok()) return record.status();
  Response response;
  if (record.response->GetDescriptor() != Response::descriptor()) {
    return absl::InternalError(
        crisp::StrCat(method, " answers ", record.response->GetTypeName(),
                     ", not ", Response::descriptor()->full_name()));
  }
  response.CopyFrom(*record.response);
  return response;
}

struct GrpcClientOptions {
  absl::Duration default_timeout = kDefaultCallTimeout;
  // Receives every record; may be null. Not owned; must outlive the client.
  CallRecorder* recorder = nullptr;
};

// A CriClient over a gRPC channel to a unix socket. The channel connects
// lazily, on the first call. Thread-safe.
std::unique_ptr<CriClient> NewGrpcCriClient(const Endpoint& endpoint,
                                            const GrpcClientOptions& options);

}  // namespace crisp::client
