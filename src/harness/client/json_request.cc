#include "harness/client/json_request.h"

#include <string>

#include "absl/status/status.h"
#include "common/strings.h"
#include "google/protobuf/util/json_util.h"

namespace crisp::client {

absl::Status ParseJsonInto(std::string_view json, google::protobuf::Message* message) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), message, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(crisp::StrCat(
        "not a valid ", message->GetDescriptor()->full_name(), ": ",
        std::string_view(status.message().data(), status.message().size())));
  }
  return absl::OkStatus();
}

std::unique_ptr<google::protobuf::Message> NewRequest(const MethodDescriptor& method) {
  const google::protobuf::Message* prototype =
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(method.input_type());
  return std::unique_ptr<google::protobuf::Message>(prototype->New());
}

}  // namespace crisp::client
