#include "harness/bench/stats.h"

#include "gtest/gtest.h"
#include "harness/bench/bench.h"

namespace crisp::bench {
namespace {

TEST(StatsTest, PercentilesAreSamplesByNearestRank) {
  std::vector<double> samples;
  for (int i = 100; i >= 1; --i) samples.push_back(i);  // 1..100, unsorted
  EXPECT_EQ(Percentile(samples, 0.50), 50);
  EXPECT_EQ(Percentile(samples, 0.90), 90);
  EXPECT_EQ(Percentile(samples, 0.99), 99);
  EXPECT_EQ(Percentile(samples, 1.0), 100);
  EXPECT_EQ(Percentile({7}, 0.5), 7);
  EXPECT_EQ(Percentile({3, 1}, 0.5), 1);
  EXPECT_EQ(Percentile({}, 0.5), 0);
  Summary summary = Summarise({4, 1, 3, 2});
  EXPECT_EQ(summary.count, 4u);
  EXPECT_EQ(summary.p50, 2);
  EXPECT_EQ(summary.max, 4);
  EXPECT_DOUBLE_EQ(summary.mean, 2.5);
}

TEST(StatsTest, AnIterationsSamplesCountEveryFailedStep) {
  nlohmann::json scenario = {
      {"verdict", "fail"},
      {"steps",
       {{{"method", "RunPodSandbox"}, {"verdict", "pass"}, {"observations", {{{"latency_ns", 2500000}}}}},
        {{"method", "CreateContainer"}, {"verdict", "fail"}, {"observations", {{{"latency_ns", 1000000}}}}},
        {{"method", ""}, {"name", "log of ctr"}, {"verdict", "error"}, {"observations", nlohmann::json::array()}}}}};
  IterationSamples samples = SamplesOf(scenario);
  EXPECT_TRUE(samples.failed);
  EXPECT_EQ(samples.latency_ms["RunPodSandbox"], std::vector<double>{2.5});
  EXPECT_EQ(samples.latency_ms["CreateContainer"], std::vector<double>{1.0});
  EXPECT_EQ(samples.errors["CreateContainer"], 1);
  EXPECT_EQ(samples.errors["log of ctr"], 1);  // no latency, still an error
  EXPECT_EQ(samples.errors.count("RunPodSandbox"), 0u);
}

}  // namespace
}  // namespace crisp::bench
