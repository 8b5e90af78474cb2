#include "harness/client/proto_json.h"

#include <string>

#include "absl/strings/escaping.h"

namespace crisp::client {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Well-formed UTF-8 by lead and continuation bytes (overlong forms are
// not rejected: the point is readable text, not validation).
bool IsUtf8(const std::string& bytes) {
  size_t i = 0;
  while (i < bytes.size()) {
    auto lead = static_cast<unsigned char>(bytes[i]);
    size_t length = lead < 0x80 ? 1
                    : (lead & 0xE0) == 0xC0 ? 2
                    : (lead & 0xF0) == 0xE0 ? 3
                    : (lead & 0xF8) == 0xF0 ? 4
                                            : 0;
    if (length == 0 || i + length > bytes.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      if ((static_cast<unsigned char>(bytes[i + k]) & 0xC0) != 0x80) return false;
    }
    i += length;
  }
  return true;
}

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
  if (IsUtf8(bytes)) return bytes;
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
