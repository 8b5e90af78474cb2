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

double MannWhitneyLaterIsLarger(const std::vector<double>& earlier, const std::vector<double>& later) {
  const size_t n1 = earlier.size(), n2 = later.size();
  if (n1 < 3 || n2 < 3) return 1;
  // Ranks over both samples, ties sharing their mean rank.
  std::vector<std::pair<double, int>> all;
  for (double x : earlier) all.emplace_back(x, 0);
  for (double x : later) all.emplace_back(x, 1);
  std::sort(all.begin(), all.end());
  const double n = static_cast<double>(n1 + n2);
  double rank_sum_later = 0, tie_term = 0;
  for (size_t i = 0; i < all.size();) {
    size_t j = i;
    while (j < all.size() && all[j].first == all[i].first) ++j;
    const double mean_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
    const double t = static_cast<double>(j - i);
    tie_term += t * t * t - t;
    for (size_t k = i; k < j; ++k) {
      if (all[k].second == 1) rank_sum_later += mean_rank;
    }
    i = j;
  }
  const double a = static_cast<double>(n1), b = static_cast<double>(n2);
  const double u = rank_sum_later - b * (b + 1) / 2;  // pairs where later > earlier
  const double mean = a * b / 2;
  const double variance = a * b / 12 * ((n + 1) - tie_term / (n * (n - 1)));
  if (variance <= 0) return 1;
  const double z = (u - mean - 0.5) / std::sqrt(variance);
  return 0.5 * std::erfc(z / std::sqrt(2.0));
}

}  // namespace crisp::bench
