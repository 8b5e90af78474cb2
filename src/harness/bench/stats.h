// Statistics of latency samples, for crisp bench: percentiles by nearest
// rank, so every figure reported is a sample that was measured.
#pragma once

#include <cstddef>
#include <vector>

#include "nlohmann/json.hpp"

namespace crisp::bench {

struct Summary {
  size_t count = 0;
  double p50 = 0, p90 = 0, p99 = 0, max = 0, mean = 0;
};

// The p-quantile (0 < p <= 1) of `samples` by nearest rank: the smallest
// sample with at least p of them at or below it; 0 when there are none.
double Percentile(std::vector<double> samples, double p);

Summary Summarise(const std::vector<double>& samples);

// {"count", "p50_ms", "p90_ms", "p99_ms", "max_ms", "mean_ms"}, rounded to µs.
nlohmann::json SummaryJson(const Summary& summary);

// The one-sided p-value of a Mann-Whitney U test that `later` tends to be
// larger than `earlier` (normal approximation with a correction for ties
// and for continuity): small means a real slowdown, not noise. 1 when
// either side has fewer than 3 samples.
double MannWhitneyLaterIsLarger(const std::vector<double>& earlier, const std::vector<double>& later);

}  // namespace crisp::bench
