#include "reference_runtime/store/oci_runtimes.h"

#include <unistd.h>

#include "absl/status/status.h"
#include "common/strings.h"

namespace crisp::crispd {

OciRuntimes::OciRuntimes(std::string state_dir) : state_dir_(std::move(state_dir)) {
  for (const auto& [name, path] : std::map<std::string, std::string>{{"runc", "/usr/bin/runc"}, {"crun", "/usr/bin/crun"}}) {
    if (access(path.c_str(), X_OK) == 0) binaries_[name] = path;
  }
}

absl::Status OciRuntimes::Check(const std::string& handler) const {
  if (binaries_.count(Name(handler))) return absl::OkStatus();
  std::string known;
  for (const auto& [name, path] : binaries_) crisp::StrAppend(&known, known.empty() ? "" : ", ", name);
  return absl::NotFoundError(crisp::StrCat("no runtime handler \"", handler, "\" (crispd has: ", known, ")"));
}

std::string OciRuntimes::Binary(const std::string& handler) const {
  auto found = binaries_.find(Name(handler));
  return found == binaries_.end() ? "/usr/bin/runc" : found->second;
}

std::string OciRuntimes::Root(const std::string& handler) const {
  return crisp::StrCat(state_dir_, "/oci/", Name(handler));
}

std::vector<std::string> OciRuntimes::Command(const std::string& handler, std::initializer_list<std::string> args) const {
  std::vector<std::string> argv = {Binary(handler), "--root", Root(handler)};
  argv.insert(argv.end(), args);
  return argv;
}

std::vector<std::string> OciRuntimes::Handlers() const {
  std::vector<std::string> names;
  for (const auto& [name, path] : binaries_) names.push_back(name);
  return names;
}

}  // namespace crisp::crispd
