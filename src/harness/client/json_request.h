// Building CRI requests from JSON, in the form crictl accepts: protobuf's
// JSON mapping, with api.proto field names or their lowerCamelCase forms.
#pragma once

#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "google/protobuf/message.h"
#include "harness/client/methods.h"

namespace crisp::client {

// Parses `json` as a `type` message. Unknown fields are errors (a typo in a
// fixture must not pass silently); the message names the field.
absl::Status ParseJsonInto(std::string_view json, google::protobuf::Message* message);

// A new, empty request message for `method`.
std::unique_ptr<google::protobuf::Message> NewRequest(const MethodDescriptor& method);

}  // namespace crisp::client
