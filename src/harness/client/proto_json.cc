#include "harness/client/proto_json.h"

#include <string>

#include "absl/strings/escaping.h"
#include "common/strings.h"

namespace crisp::client {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

nlohmann::json Value(const Message& message, const FieldDescriptor* field, int index) {
  const Reflection* reflection = message.GetReflection();
  const bool repeated = field->is_repeated();
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return repeated ? reflection->GetRepeatedInt32(message, field, index)
                      : reflection->GetInt32(message, field);
    case FieldDescriptor::CPPTYPE_INT64:
      return repeated ? reflection->GetRepeatedInt64(message, field, index)
                      : reflection->GetInt64(message, field);
    case FieldDescriptor::CPPTYPE_UINT32:
      return repeated ? reflection->GetRepeatedUInt32(message, field, index)
                      : reflection->GetUInt32(message, field);
    case FieldDescriptor::CPPTYPE_UINT64:
      return repeated ? reflection->GetRepeatedUInt64(message, field, index)
                      : reflection->GetUInt64(message, field);
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return repeated ? reflection->GetRepeatedDouble(message, field, index)
                      : reflection->GetDouble(message, field);
    case FieldDescriptor::CPPTYPE_FLOAT:
      return repeated ? reflection->GetRepeatedFloat(message, field, index)
                      : reflection->GetFloat(message, field);
    case FieldDescriptor::CPPTYPE_BOOL:
      return repeated ? reflection->GetRepeatedBool(message, field, index)
                      : reflection->GetBool(message, field);
    case FieldDescriptor::CPPTYPE_ENUM: {
      int number = repeated ? reflection->GetRepeatedEnumValue(message, field, index)
                            : reflection->GetEnumValue(message, field);
      const auto* value = field->enum_type()->FindValueByNumber(number);
      return value != nullptr ? nlohmann::json(value->name()) : nlohmann::json(number);
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string text = repeated ? reflection->GetRepeatedString(message, field, index)
                                  : reflection->GetString(message, field);
      return field->type() == FieldDescriptor::TYPE_BYTES ? BytesToJson(text) : nlohmann::json(text);
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return ProtoToJson(repeated ? reflection->GetRepeatedMessage(message, field, index)
                                  : reflection->GetMessage(message, field));
  }
  return nullptr;
}

}  // namespace

nlohmann::json BytesToJson(const std::string& bytes) {
  if (crisp::IsUtf8(bytes)) return bytes;  // strict: what a JSON writer accepts
  return {{"base64", absl::Base64Escape(bytes)}};
}

nlohmann::json ProtoToJson(const Message& message) {
  nlohmann::json json = nlohmann::json::object();
  const auto* descriptor = message.GetDescriptor();
  const Reflection* reflection = message.GetReflection();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    if (field->is_map()) {
      nlohmann::json map = nlohmann::json::object();
      const auto* key_field = field->message_type()->map_key();
      const auto* value_field = field->message_type()->map_value();
      for (int k = 0; k < reflection->FieldSize(message, field); ++k) {
        const Message& entry = reflection->GetRepeatedMessage(message, field, k);
        nlohmann::json key = Value(entry, key_field, -1);
        map[key.is_string() ? key.get<std::string>() : key.dump()] = Value(entry, value_field, -1);
      }
      json[field->name()] = std::move(map);
    } else if (field->is_repeated()) {
      nlohmann::json list = nlohmann::json::array();
      for (int k = 0; k < reflection->FieldSize(message, field); ++k) {
        list.push_back(Value(message, field, k));
      }
      json[field->name()] = std::move(list);
    } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (reflection->HasField(message, field)) json[field->name()] = Value(message, field, -1);
    } else {
      json[field->name()] = Value(message, field, -1);
    }
  }
  return json;
}

}  // namespace crisp::client
