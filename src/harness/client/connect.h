// Connecting to a runtime and saying, in one line, why it failed.
#pragma once

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "harness/client/call_record.h"
#include "harness/client/cri_client.h"
#include "harness/client/endpoint.h"
#include "runtime/v1/api.pb.h"

namespace crisp::client {

// Checks, without gRPC, that the endpoint's socket exists, is a socket and
// accepts a connection. The error says which of these failed: "no such
// socket", "not a socket", "permission denied", "connection refused".
absl::Status ProbeSocket(const Endpoint& endpoint);

// The reason a first Version call failed on a socket that accepted a
// connection: not a CRI v1 server, not gRPC at all, timeout, or what the
// runtime said.
std::string DescribeVersionFailure(const CallRecord& record,
                                   absl::Duration timeout);

// Probes the socket, then calls Version. On failure returns Unavailable with
// one line naming the endpoint and the reason.
absl::StatusOr<runtime::v1::VersionResponse> Handshake(
    CriClient& client, const Endpoint& endpoint, absl::Duration timeout);

}  // namespace crisp::client
