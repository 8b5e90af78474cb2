#include "harness/client/endpoint.h"

#include <algorithm>
#include <cctype>

#include "absl/status/status.h"
#include "common/strings.h"

namespace crisp::client {
namespace {

constexpr std::string_view kUnixScheme = "unix://";
constexpr std::string_view kForms =
    "expected unix:///absolute/path, /absolute/path, reference, or NAME= "
    "followed by one of these";

bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' ||
         c == '_' || c == '.';
}

// A name starts with a letter or digit and holds letters, digits, '-', '_'
// and '.': it appears in report file names (junit-NAME.xml).
bool IsValidName(std::string_view name) {
  return !name.empty() &&
         std::isalnum(static_cast<unsigned char>(name.front())) != 0 &&
         std::all_of(name.begin(), name.end(), IsNameChar);
}

// "/run/containerd/containerd.sock" -> "containerd"; "/run/crio/crio.sock" ->
// "crio"; falls back to "runtime" when nothing usable is left.
std::string NameFromSocketPath(std::string_view path) {
  std::string_view base = path.substr(path.rfind('/') + 1);
  if (base.ends_with(".sock")) base.remove_suffix(5);
  std::string name;
  for (char c : base) name.push_back(IsNameChar(c) ? c : '-');
  return IsValidName(name) ? name : "runtime";
}

absl::Status Invalid(std::string_view text, std::string_view why) {
  return absl::InvalidArgumentError(
      crisp::StrCat("invalid endpoint \"", text, "\": ", why));
}

}  // namespace

std::string Endpoint::GrpcTarget() const {
  return crisp::StrCat(kUnixScheme, socket_path);
}

std::string Endpoint::Display() const {
  return kind == Kind::kReference ? std::string(kReferenceEndpoint)
                                  : GrpcTarget();
}

absl::StatusOr<Endpoint> ParseEndpoint(std::string_view text) {
  if (text.empty()) return Invalid(text, kForms);

  Endpoint endpoint;
  std::string_view rest = text;
  // NAME=ENDPOINT. A '=' can also appear inside a path, so only a valid name
  // before the first '=' counts as one.
  if (size_t eq = text.find('='); eq != std::string_view::npos) {
    std::string_view name = text.substr(0, eq);
    if (!IsValidName(name)) {
      return Invalid(text,
                     "the name before '=' must start with a letter or digit "
                     "and hold only letters, digits, '-', '_' and '.'");
    }
    endpoint.name = std::string(name);
    rest = text.substr(eq + 1);
    if (rest.empty()) return Invalid(text, "nothing after '='; " + std::string(kForms));
  }

  if (rest == kReferenceEndpoint) {
    endpoint.kind = Endpoint::Kind::kReference;
    if (endpoint.name.empty()) endpoint.name = std::string(kReferenceEndpoint);
    return endpoint;
  }

  std::string_view path = rest;
  if (rest.starts_with(kUnixScheme)) {
    path = rest.substr(kUnixScheme.size());
    if (path.empty() || path.front() != '/') {
      return Invalid(text,
                     "a unix endpoint needs an absolute path, as in "
                     "unix:///run/containerd/containerd.sock (three slashes)");
    }
  } else if (size_t scheme = rest.find("://"); scheme != std::string_view::npos) {
    return Invalid(text, crisp::StrCat("scheme \"", rest.substr(0, scheme),
                                      "\" is not supported; CRI runtimes are "
                                      "reached over unix sockets (unix://)"));
  } else if (rest.front() != '/') {
    return Invalid(text, kForms);
  }
  if (path.size() < 2) return Invalid(text, "the socket path is empty");

  endpoint.kind = Endpoint::Kind::kUnix;
  endpoint.socket_path = std::string(path);
  if (endpoint.name.empty()) endpoint.name = NameFromSocketPath(path);
  return endpoint;
}

}  // namespace crisp::client
