// The one place where crispd turns internal errors into gRPC statuses and
// logs each call: method, duration, code and message.
#pragma once

#include <chrono>
#include <exception>
#include <functional>
#include <string_view>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace crisp::crispd {

// Runs `body` for RPC `method`; an absl::Status keeps its code (gRPC and
// absl number them alike); an exception becomes INTERNAL.
grpc::Status AnswerRpc(std::string_view method, const std::function<absl::Status()>& body);

}  // namespace crisp::crispd
