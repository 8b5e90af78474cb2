// For e2e tests: the environment `ci/env up` wrote, and the fixtures.
#pragma once

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "google/protobuf/message.h"

namespace crisp::e2e {

// The variables of $CRISP_ENV_DIR/env (default /tmp/crisp-env/env).
// An error names the file and says to run `ci/env up`.
absl::StatusOr<std::map<std::string, std::string>> LoadEnvironment();

// Parses fixtures/testdata/NAME into `message`; unknown fields are errors.
absl::Status LoadFixture(const std::string& name, google::protobuf::Message* message);

// A short random suffix, so that names never collide across runs.
std::string RunSuffix();

}  // namespace crisp::e2e
