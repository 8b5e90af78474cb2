#include "harness/client/methods.h"

#include <algorithm>
#include <cctype>

#include "absl/status/status.h"
#include "runtime/v1/api.pb.h"
#include "common/strings.h"

namespace crisp::client {
namespace {

constexpr std::string_view kPackage = "runtime.v1";
constexpr std::string_view kServices[] = {"RuntimeService", "ImageService"};

const google::protobuf::ServiceDescriptor* Service(std::string_view name) {
  // Touching a generated type guarantees api.pb.o is linked in and its
  // descriptors are registered with the generated pool.
  const auto* file = runtime::v1::VersionRequest::descriptor()->file();
  return file->pool()->FindServiceByName(crisp::StrCat(kPackage, ".", name));
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  });
}

}  // namespace

std::vector<const MethodDescriptor*> AllCriMethods() {
  std::vector<const MethodDescriptor*> methods;
  for (std::string_view name : kServices) {
    const auto* service = Service(name);
    for (int i = 0; i < service->method_count(); ++i) {
      methods.push_back(service->method(i));
    }
  }
  return methods;
}

absl::StatusOr<const MethodDescriptor*> FindCriMethod(std::string_view name) {
  std::string_view rest = name;
  if (rest.starts_with('/')) rest.remove_prefix(1);
  if (rest.starts_with(kPackage) && rest.substr(kPackage.size()).starts_with('.')) {
    rest.remove_prefix(kPackage.size() + 1);
  }
  std::string_view service_name;
  if (size_t slash = rest.find('/'); slash != std::string_view::npos) {
    service_name = rest.substr(0, slash);
    rest = rest.substr(slash + 1);
  }
  const MethodDescriptor* case_insensitive_match = nullptr;
  for (const MethodDescriptor* method : AllCriMethods()) {
    if (!service_name.empty() && method->service()->name() != service_name) {
      continue;
    }
    if (method->name() == rest) return method;
    if (EqualsIgnoreCase(method->name(), rest)) {
      case_insensitive_match = method;
    }
  }
  std::string message = crisp::StrCat("no CRI v1 RPC named \"", name, "\"");
  if (case_insensitive_match != nullptr) {
    crisp::StrAppend(&message, "; did you mean ", case_insensitive_match->name(),
                    "?");
  }
  return absl::NotFoundError(message);
}

std::string GrpcPath(const MethodDescriptor& method) {
  return crisp::StrCat("/", method.service()->full_name(), "/", method.name());
}

bool IsUnary(const MethodDescriptor& method) {
  return !method.client_streaming() && !method.server_streaming();
}

}  // namespace crisp::client
