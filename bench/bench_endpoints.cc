#include "bench/bench_endpoints.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "benchmark/benchmark.h"

namespace crisp::bench {

absl::StatusOr<std::vector<client::Endpoint>> EndpointsFromEnvironment() {
  const char* value = std::getenv("CRISP_BENCH_ENDPOINTS");
  if (value == nullptr || *value == '\0') {
    return absl::InvalidArgumentError("set CRISP_BENCH_ENDPOINTS=name=unix:///path,... (the bench/run-* scripts do)");
  }
  std::vector<client::Endpoint> endpoints;
  std::stringstream list(value);
  std::string item;
  while (std::getline(list, item, ',')) {
    absl::StatusOr<client::Endpoint> endpoint = client::ParseEndpoint(item);
    if (!endpoint.ok()) return endpoint.status();
    endpoints.push_back(*endpoint);
  }
  return endpoints;
}

int RunForEachEndpoint(int argc, char** argv, const std::function<void(const client::Endpoint&)>& register_for,
                       const std::function<void()>& register_once) {
  absl::StatusOr<std::vector<client::Endpoint>> endpoints = EndpointsFromEnvironment();
  if (!endpoints.ok()) {
    std::fprintf(stderr, "%s\n", std::string(endpoints.status().message()).c_str());
    return 2;
  }
  for (const client::Endpoint& endpoint : *endpoints) register_for(endpoint);
  if (register_once) register_once();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

std::string ReadFixture(const std::string& name) {
  std::ifstream in(std::string(CRISP_SOURCE_DIR) + "/fixtures/testdata/" + name);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

double Percentile(std::vector<double> samples, double p) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  return samples[std::min(samples.size() - 1, static_cast<size_t>(p * static_cast<double>(samples.size())))];
}

}  // namespace crisp::bench
