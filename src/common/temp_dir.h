// A directory under /tmp that lives as long as the object: for tests and
// for scratch space. Removed with everything in it when destroyed.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

#include "absl/status/statusor.h"

namespace crisp {

class TempDir {
 public:
  // `prefix` names it: /tmp/<prefix>-XXXXXX.
  static absl::StatusOr<TempDir> Make(const std::string& prefix) {
    std::string pattern = "/tmp/" + prefix + "-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) return absl::InternalError("cannot make a directory like " + pattern);
    return TempDir(pattern);
  }
  TempDir() = default;  // none yet
  TempDir(TempDir&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  TempDir& operator=(TempDir&& other) noexcept {
    std::swap(path_, other.path_);
    return *this;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;  // best effort: what is left is under /tmp
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace crisp
