// Image references, normalised as docker/distribution does: a registry host
// (docker.io by default), a repository path (library/ prefixed for one-word
// docker.io names), and a tag (default latest) or a digest.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace crisp::crispd {

struct ImageReference {
  std::string registry;    // "docker.io", "registry.k8s.io", "127.0.0.1:5000"
  std::string repository;  // "library/redis", "pause"
  std::string tag;         // empty when digest is set
  std::string digest;      // "sha256:<64 hex>", or empty

  // "docker.io/library/redis"
  std::string Name() const;
  // "docker.io/library/redis:alpine" or "docker.io/library/redis@sha256:..."
  std::string ToString() const;
};

// Parses "redis", "redis:alpine", "quay.io/x/y:1", "name@sha256:...", and
// "name:tag@sha256:..." (the digest wins). InvalidArgument says what is wrong.
absl::StatusOr<ImageReference> ParseImageReference(std::string_view text);

// True for "sha256:" followed by 64 lowercase hex digits.
bool IsDigest(std::string_view text);

}  // namespace crisp::crispd
