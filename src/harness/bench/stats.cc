#include "harness/bench/stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace crisp::bench {

double Percentile(std::vector<double> samples, double p) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  const double rank = std::ceil(p * static_cast<double>(samples.size()));
  const size_t index = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return samples[std::min(index, samples.size() - 1)];
}

Summary Summarise(const std::vector<double>& samples) {
  Summary summary;
  summary.count = samples.size();
  if (samples.empty()) return summary;
  summary.p50 = Percentile(samples, 0.50);
  summary.p90 = Percentile(samples, 0.90);
  summary.p99 = Percentile(samples, 0.99);
  summary.max = *std::max_element(samples.begin(), samples.end());
  summary.mean = std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(samples.size());
  return summary;
}

nlohmann::json SummaryJson(const Summary& summary) {
  auto round = [](double ms) { return std::round(ms * 1000) / 1000; };
  return {{"count", summary.count},     {"p50_ms", round(summary.p50)}, {"p90_ms", round(summary.p90)},
          {"p99_ms", round(summary.p99)}, {"max_ms", round(summary.max)}, {"mean_ms", round(summary.mean)}};
}

}  // namespace crisp::bench
