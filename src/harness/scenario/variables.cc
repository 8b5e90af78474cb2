#include "harness/scenario/variables.h"

#include "absl/status/status.h"
#include "common/strings.h"
#include "harness/scenario/json_path.h"

namespace crisp::scenario {
namespace {

// Calls `on_reference(inner, begin, end)` for each ${inner} in `text` and
// `on_text(piece)` for the text between; `$${` is a literal `${`. Returns
// false on an unclosed reference.
template <typename OnText, typename OnReference>
bool Scan(const std::string& text, OnText on_text, OnReference on_reference) {
  size_t i = 0;
  while (i < text.size()) {
    size_t dollar = text.find('$', i);
    if (dollar == std::string::npos) {
      on_text(std::string_view(text).substr(i));
      break;
    }
    on_text(std::string_view(text).substr(i, dollar - i));
    if (text.compare(dollar, 3, "$${") == 0) {
      on_text("${");
      i = dollar + 3;
    } else if (text.compare(dollar, 2, "${") == 0) {
      size_t close = text.find('}', dollar);
      if (close == std::string::npos) return false;
      on_reference(std::string_view(text).substr(dollar + 2, close - dollar - 2), dollar, close + 1);
      i = close + 1;
    } else {
      on_text("$");
      i = dollar + 1;
    }
  }
  return true;
}

std::string_view HeadName(std::string_view reference) {
  return reference.substr(0, reference.find_first_of(".["));
}

}  // namespace

void Variables::Set(const std::string& name, nlohmann::json value) {
  values_[name] = std::move(value);
}

absl::StatusOr<nlohmann::json> Variables::Lookup(std::string_view reference) const {
  std::string_view name = HeadName(reference);
  auto found = values_.find(std::string(name));
  if (found == values_.end()) {
    return absl::NotFoundError(crisp::StrCat("${", reference, "}: nothing is saved as \"", name, "\""));
  }
  std::string_view rest = reference.substr(name.size());
  if (rest.starts_with('.')) rest.remove_prefix(1);
  absl::StatusOr<JsonPath> path = ParsePath(rest);
  if (!path.ok()) return path.status();
  const nlohmann::json* value = scenario::Lookup(found->second, *path);
  if (value == nullptr) {
    return absl::NotFoundError(crisp::StrCat("${", reference, "}: \"", name, "\" has no ", rest));
  }
  return *value;
}

absl::StatusOr<nlohmann::json> Variables::ResolveString(const std::string& text) const {
  // One whole reference keeps the value's type.
  if (text.starts_with("${") && text.find('}') == text.size() - 1 &&
      text.find("${", 2) == std::string::npos) {
    return Lookup(std::string_view(text).substr(2, text.size() - 3));
  }
  std::string out;
  absl::Status error = absl::OkStatus();
  bool closed = Scan(
      text, [&](std::string_view piece) { out.append(piece); },
      [&](std::string_view reference, size_t, size_t) {
        absl::StatusOr<nlohmann::json> value = Lookup(reference);
        if (!value.ok()) {
          if (error.ok()) error = value.status();
          return;
        }
        out += value->is_string() ? value->get<std::string>() : value->dump();
      });
  if (!closed) return absl::InvalidArgumentError(crisp::StrCat("unclosed ${ in \"", text, "\""));
  if (!error.ok()) return error;
  return nlohmann::json(out);
}

absl::StatusOr<nlohmann::json> Variables::Resolve(const nlohmann::json& node) const {
  if (node.is_string()) return ResolveString(node.get<std::string>());
  if (node.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [key, value] : node.items()) {
      absl::StatusOr<nlohmann::json> resolved = Resolve(value);
      if (!resolved.ok()) return resolved.status();
      out[key] = *std::move(resolved);
    }
    return out;
  }
  if (node.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& value : node) {
      absl::StatusOr<nlohmann::json> resolved = Resolve(value);
      if (!resolved.ok()) return resolved.status();
      out.push_back(*std::move(resolved));
    }
    return out;
  }
  return node;
}

std::vector<std::string> ReferencedNames(const nlohmann::json& node,
                                         std::vector<std::string>* errors) {
  std::vector<std::string> names;
  if (node.is_string()) {
    const std::string& text = node.get_ref<const std::string&>();
    bool closed = Scan(
        text, [](std::string_view) {},
        [&](std::string_view reference, size_t, size_t) {
          std::string_view name = HeadName(reference);
          if (name.empty()) {
            errors->push_back(crisp::StrCat("empty reference in \"", text, "\""));
            return;
          }
          std::string_view rest = reference.substr(name.size());
          if (rest.starts_with('.')) rest.remove_prefix(1);
          if (absl::StatusOr<JsonPath> path = ParsePath(rest); !path.ok()) {
            errors->push_back(std::string(crisp::View(path.status().message())));
          }
          names.emplace_back(name);
        });
    if (!closed) errors->push_back(crisp::StrCat("unclosed ${ in \"", text, "\""));
  } else if (node.is_structured()) {
    for (const auto& value : node) {
      std::vector<std::string> inner = ReferencedNames(value, errors);
      names.insert(names.end(), inner.begin(), inner.end());
    }
  }
  return names;
}

}  // namespace crisp::scenario
