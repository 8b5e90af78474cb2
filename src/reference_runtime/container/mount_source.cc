#include "reference_runtime/container/mount_source.h"

#include <sstream>
#include <vector>

#include "common/strings.h"

namespace crisp::crispd {
namespace {

namespace v1 = runtime::v1;

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string Unescape(const std::string& field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      int value = 0;
      bool octal = true;
      for (size_t j = 1; j <= 3; ++j) {
        if (field[i + j] < '0' || field[i + j] > '7') octal = false;
        value = value * 8 + (field[i + j] - '0');
      }
      if (octal) {
        out.push_back(static_cast<char>(value));
        i += 3;
        continue;
      }
    }
    out.push_back(field[i]);
  }
  return out;
}

bool Under(const std::string& path, const std::string& mount_point) {
  if (mount_point == "/") return true;
  return path == mount_point || (path.starts_with(mount_point) && path[mount_point.size()] == '/');
}

}  // namespace

absl::Status CheckMountSource(const std::string& host_path, v1::MountPropagation propagation,
                              const std::string& mountinfo) {
  if (propagation != v1::PROPAGATION_BIDIRECTIONAL && propagation != v1::PROPAGATION_HOST_TO_CONTAINER) {
    return absl::OkStatus();
  }
  // The last mount whose mount point holds the path is the one it is on
  // (later lines are mounted over earlier ones).
  std::string mount_point;
  bool shared = false, slave = false;
  std::istringstream lines(mountinfo);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::vector<std::string> parts;
    for (std::string field; fields >> field;) parts.push_back(field);
    if (parts.size() < 7) continue;
    std::string point = Unescape(parts[4]);
    if (!Under(host_path, point) || point.size() < mount_point.size()) continue;
    mount_point = point;
    shared = slave = false;
    for (size_t i = 6; i < parts.size() && parts[i] != "-"; ++i) {
      shared = shared || parts[i].starts_with("shared:");
      slave = slave || parts[i].starts_with("master:");
    }
  }
  if (mount_point.empty()) {
    return absl::FailedPreconditionError(crisp::StrCat("mount source ", host_path, " is on no mount crispd can see"));
  }
  if (propagation == v1::PROPAGATION_BIDIRECTIONAL && !shared) {
    return absl::FailedPreconditionError(crisp::StrCat(
        "mount source ", host_path, " is on ", mount_point,
        ", which is not a shared mount: bidirectional propagation needs one (mount --make-shared ", mount_point, ")"));
  }
  if (!shared && !slave) {
    return absl::FailedPreconditionError(crisp::StrCat(
        "mount source ", host_path, " is on ", mount_point,
        ", which is neither shared nor a slave: host-to-container propagation needs one (mount --make-shared ",
        mount_point, ")"));
  }
  return absl::OkStatus();
}

}  // namespace crisp::crispd
