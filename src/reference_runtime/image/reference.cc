#include "reference_runtime/image/reference.h"

#include <regex>

#include "absl/status/status.h"
#include "common/strings.h"

namespace crisp::crispd {
namespace {

absl::Status Invalid(std::string_view text, std::string_view why) {
  return absl::InvalidArgumentError(crisp::StrCat("invalid image reference \"", text, "\": ", why));
}

}  // namespace

bool IsDigest(std::string_view text) {
  if (text.size() != 71 || !text.starts_with("sha256:")) return false;
  for (char c : text.substr(7)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string ImageReference::Name() const { return crisp::StrCat(registry, "/", repository); }

std::string ImageReference::ToString() const {
  return digest.empty() ? crisp::StrCat(Name(), ":", tag) : crisp::StrCat(Name(), "@", digest);
}

absl::StatusOr<ImageReference> ParseImageReference(std::string_view text) {
  if (text.empty()) return Invalid(text, "it is empty");
  ImageReference reference;
  std::string_view rest = text;
  if (size_t at = rest.find('@'); at != std::string_view::npos) {
    reference.digest = std::string(rest.substr(at + 1));
    if (!IsDigest(reference.digest)) return Invalid(text, "the digest must be sha256: and 64 hex digits");
    rest = rest.substr(0, at);
  }
  // A registry host is a first component with '.' or ':', or localhost.
  std::string_view first = rest.substr(0, rest.find('/'));
  if (first.size() < rest.size() &&
      (first.find('.') != std::string_view::npos || first.find(':') != std::string_view::npos ||
       first == "localhost")) {
    reference.registry = std::string(first);
    rest = rest.substr(first.size() + 1);
  } else {
    reference.registry = "docker.io";
  }
  // The tag follows the last ':' after the last '/'.
  size_t slash = rest.rfind('/');
  size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    reference.tag = std::string(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
    static const std::regex tag_format("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$");
    if (!std::regex_match(reference.tag, tag_format)) return Invalid(text, "bad tag");
  }
  static const std::regex path_format("^[a-z0-9]+([._-]+[a-z0-9]+|__[a-z0-9]+)*(/[a-z0-9]+([._-]+[a-z0-9]+)*)*$");
  std::string repository(rest);
  if (!std::regex_match(repository, path_format)) {
    return Invalid(text, "the repository must be lowercase letters, digits and separators");
  }
  if (reference.registry == "docker.io" && repository.find('/') == std::string::npos) {
    repository = "library/" + repository;
  }
  reference.repository = repository;
  if (reference.digest.empty() && reference.tag.empty()) reference.tag = "latest";
  if (!reference.digest.empty()) reference.tag.clear();
  return reference;
}

}  // namespace crisp::crispd
