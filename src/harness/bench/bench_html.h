// bench.html: one self-contained page (no network) of a bench.json: per
// workload, the latency CDF of each RPC per runtime and the table of
// bench.md; throughput against copies in flight; latency against the pods
// present for the density run. Plots are SVG drawn in the page from the
// data it carries.
#pragma once

#include <string>

#include "nlohmann/json.hpp"

namespace crisp::bench {

std::string BenchHtml(const nlohmann::json& bench);

}  // namespace crisp::bench
