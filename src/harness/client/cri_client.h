// CriClient: calls CRI v1 RPCs on one runtime and records every call.
#pragma once

#include <atomic>
#include <memory>
#include <string_view>
#include <vector>

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

// A server-streaming call in flight: the runtime's messages are collected
// as they come, until the runtime ends the call or Close() does.
class CriStream {
 public:
  virtual ~CriStream() = default;
  // Waits up to `within` until the runtime has answered with its headers (a
  // server that has taken the call) or ended the call; false if neither.
  virtual bool AwaitStarted(absl::Duration within) = 0;
  // The messages so far, in order of arrival.
  virtual std::vector<std::shared_ptr<const google::protobuf::Message>> Messages() const = 0;
  // Whether the runtime (or the deadline) has ended the call.
  virtual bool Ended() const = 0;
  // Ends the call, cancelling it if it still runs, and returns its record:
  // the runtime's code when it ended the call, else OK (crisp stopped
  // listening), and no `response` (the messages are Messages()).
  virtual CallRecord Close() = 0;
};

class CriClient {
 public:
  virtual ~CriClient() = default;

  // Opens a server-streaming RPC (GetContainerEvents) with one request. The
  // deadline (`options.timeout`, else the client's default) bounds the whole
  // stream. The record goes to the recorder at Close().
  virtual std::unique_ptr<CriStream> OpenStream(const MethodDescriptor& method,
                                                const google::protobuf::Message& request,
                                                const CallOptions& options = {}) = 0;

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
