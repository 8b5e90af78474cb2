// crisp.yaml: what a team always passes, in one file. Looked for at
// --config, else ./crisp.yaml, else $XDG_CONFIG_HOME/crisp/crisp.yaml
// (~/.config when unset). A flag given on the command line wins over the
// file; relative paths in the file are relative to the file.
//
//   timeout: 30s
//   registry_mirrors: {docker.io: "http://127.0.0.1:5000"}
//   endpoints:                 # names for -e NAME
//     containerd: unix:///run/containerd/containerd.sock
//   matrix: {endpoints: [containerd, reference]}   # crisp matrix without -e
//   suites: [suites]           # run, matrix and list without --suite
//   baseline: fixtures/baselines/known-failures.yaml
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace crisp::cli {

struct CrispConfig {
  std::string source;  // the file read; "" when there was none
  std::string timeout;
  std::vector<std::string> registry_mirrors;     // REGISTRY=URL
  std::map<std::string, std::string> endpoints;  // name -> endpoint
  std::vector<std::string> matrix_endpoints;     // names or endpoints
  std::vector<std::string> suites;
  std::string baseline;

  // `text` as -e gave it, with a name of the file's endpoints made NAME=ENDPOINT.
  std::string ResolveEndpoint(const std::string& text) const;
};

// Parses a crisp.yaml; `source` names it in errors (file:line:col) and
// anchors its relative paths.
absl::StatusOr<CrispConfig> ParseConfig(std::string_view text, const std::string& source);

// The file at `path` when given (missing: an error), else the first found
// where crisp looks; none found is an empty config.
absl::StatusOr<CrispConfig> LoadConfig(const std::string& path);

}  // namespace crisp::cli
