#include "environment.h"

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

#include "absl/status/status.h"
#include "common/strings.h"
#include "harness/client/json_request.h"

namespace crisp::e2e {

absl::StatusOr<std::map<std::string, std::string>> LoadEnvironment() {
  const char* dir = std::getenv("CRISP_ENV_DIR");
  std::string path = crisp::StrCat(dir != nullptr ? dir : "/tmp/crisp-env", "/env");
  std::ifstream file(path);
  if (!file) {
    return absl::FailedPreconditionError(
        crisp::StrCat(path, " is missing: run 'ci/env up' first (ci/test does)"));
  }
  // Lines are `export NAME=VALUE`; ci/env writes values that need no quoting
  // except paths, which printf %q leaves bare when they are plain.
  std::map<std::string, std::string> variables;
  std::string line;
  while (std::getline(file, line)) {
    constexpr std::string_view kExport = "export ";
    if (!line.starts_with(kExport)) continue;
    size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    variables[line.substr(kExport.size(), eq - kExport.size())] = line.substr(eq + 1);
  }
  return variables;
}

absl::Status LoadFixture(const std::string& name, google::protobuf::Message* message) {
  std::string path = crisp::StrCat(CRISP_SOURCE_DIR, "/fixtures/testdata/", name);
  std::ifstream file(path);
  if (!file) return absl::NotFoundError(crisp::StrCat("cannot read ", path));
  std::ostringstream text;
  text << file.rdbuf();
  absl::Status status = client::ParseJsonInto(text.str(), message);
  if (!status.ok()) {
    return absl::InvalidArgumentError(crisp::StrCat(path, ": ", crisp::View(status.message())));
  }
  return absl::OkStatus();
}

std::string RunSuffix() {
  std::random_device device;
  return fmt::format("{:06x}", device() & 0xffffffu);
}

}  // namespace crisp::e2e
