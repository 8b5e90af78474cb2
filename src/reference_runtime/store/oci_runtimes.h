// The OCI runtimes crispd can run pods with, by CRI runtime handler: ""
// and "runc" are runc, "crun" is crun when installed. Each keeps its state
// under its own root, since runc and crun do not share a state format.
#pragma once

#include <initializer_list>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace crisp::crispd {

class OciRuntimes {
 public:
  // Handlers whose binary exists: runc (also the default, ""), crun.
  explicit OciRuntimes(std::string state_dir);

  // NotFound names the handler and the ones there are.
  absl::Status Check(const std::string& handler) const;
  std::string Binary(const std::string& handler) const;
  std::string Root(const std::string& handler) const;
  // BINARY --root ROOT ARGS...
  std::vector<std::string> Command(const std::string& handler, std::initializer_list<std::string> args) const;
  std::vector<std::string> Handlers() const;  // without ""

 private:
  static std::string Name(const std::string& handler) { return handler.empty() ? "runc" : handler; }
  std::string state_dir_;
  std::map<std::string, std::string> binaries_;
};

}  // namespace crisp::crispd
