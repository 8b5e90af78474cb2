// Protobuf messages as JSON values for observations, expectations and
// reports. Unlike protobuf's own JSON mapping, 64-bit integers stay numbers
// (so `size > 0` compares numbers) and bytes that are valid UTF-8 stay text
// (ExecSync's stdout reads as "PONG\n"); other bytes become
// {"base64": "..."}. Field names are api.proto's. Scalars at their default
// are printed, so every message of a type has the same shape; unset message
// fields are absent.
#pragma once

#include "google/protobuf/message.h"
#include "nlohmann/json.hpp"

namespace crisp::client {

nlohmann::json ProtoToJson(const google::protobuf::Message& message);

// Bytes as a JSON value: the text when it is UTF-8, else {"base64": "..."}
// (JSON cannot hold other bytes).
nlohmann::json BytesToJson(const std::string& bytes);

}  // namespace crisp::client
