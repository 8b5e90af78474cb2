// What the runtime benchmarks share: the endpoints to measure, fixtures,
// percentiles.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "harness/client/endpoint.h"

namespace crisp::bench {

// CRISP_BENCH_ENDPOINTS="name=unix:///path,..."; an error says what to set.
absl::StatusOr<std::vector<client::Endpoint>> EndpointsFromEnvironment();

// A benchmark program's main: registers benchmarks for each endpoint of
// CRISP_BENCH_ENDPOINTS with `register_for`, then runs them; 2 on bad input.
// `register_once`, when given, registers what is not per endpoint, after.
int RunForEachEndpoint(int argc, char** argv, const std::function<void(const client::Endpoint&)>& register_for,
                       const std::function<void()>& register_once = nullptr);

// fixtures/testdata/<name>, as text.
std::string ReadFixture(const std::string& name);

// The p-quantile (0..1) of `samples`, nearest rank; 0 when empty.
double Percentile(std::vector<double> samples, double p);

}  // namespace crisp::bench
