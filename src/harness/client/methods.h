// The CRI v1 RPCs, found by name in the generated descriptor pool, so that
// callers (the CLI, scenarios) can name any RPC without a table of our own.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/descriptor.h"

namespace crisp::client {

using MethodDescriptor = google::protobuf::MethodDescriptor;

// Finds a CRI v1 method by "Version", "RuntimeService/Version",
// "runtime.v1.RuntimeService/Version" or "/runtime.v1.RuntimeService/Version".
// NotFound names the method and suggests the closest known spelling.
absl::StatusOr<const MethodDescriptor*> FindCriMethod(std::string_view name);

// Every method of runtime.v1.RuntimeService and runtime.v1.ImageService.
std::vector<const MethodDescriptor*> AllCriMethods();

// The HTTP/2 path gRPC uses: "/runtime.v1.RuntimeService/Version".
std::string GrpcPath(const MethodDescriptor& method);

// True for methods with neither client nor server streaming.
bool IsUnary(const MethodDescriptor& method);

}  // namespace crisp::client
