#include "harness/bench/stats.h"

#include "gmock/gmock.h"
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

TEST(StatsTest, MannWhitneyTellsASlowdownFromNoise) {
  std::vector<double> before, slower, same;
  for (int i = 0; i < 20; ++i) {
    before.push_back(100 + (i % 5));  // 100..104
    slower.push_back(130 + (i % 5));
    same.push_back(100 + ((i + 2) % 5));
  }
  EXPECT_LT(MannWhitneyLaterIsLarger(before, slower), 0.001);
  EXPECT_GT(MannWhitneyLaterIsLarger(slower, before), 0.99);  // faster, not slower
  EXPECT_GT(MannWhitneyLaterIsLarger(before, same), 0.2);
  EXPECT_EQ(MannWhitneyLaterIsLarger({1, 2}, {3, 4, 5}), 1);  // too few to say
  EXPECT_GT(MannWhitneyLaterIsLarger({5, 5, 5, 5}, {5, 5, 5, 5}), 0.4);  // all tied
}

nlohmann::json Bench(const std::vector<double>& create_ms) {
  nlohmann::json samples = create_ms;
  nlohmann::json stats = SummaryJson(Summarise(create_ms));
  stats["samples_ms"] = samples;
  return {{"schema", kBenchSchema},
          {"workloads", {{{"id", "bench.w"},
                          {"results", {{"rt", {{"iteration", stats}, {"rpcs", {{"CreateContainer", stats}}}}}}}}}}};
}

TEST(BenchDiffTest, ASignificantSlowdownIsARegressionAndNoiseIsNot) {
  std::vector<double> base, slow, noisy;
  for (int i = 0; i < 15; ++i) {
    base.push_back(10 + i % 3);
    slow.push_back(14 + i % 3);   // +40%
    noisy.push_back(10 + (i + 1) % 3);
  }
  absl::StatusOr<BenchDiff> regressed = CompareBench(Bench(base), Bench(slow), 0.2);
  ASSERT_TRUE(regressed.ok()) << regressed.status();
  EXPECT_EQ(regressed->regressions.size(), 2u);  // the iteration and the RPC
  EXPECT_THAT(regressed->ToText(), ::testing::HasSubstr("SLOWER   bench.w on rt, CreateContainer: p50 11.0 -> 15.0 ms (+36%)"));
  absl::StatusOr<BenchDiff> same = CompareBench(Bench(base), Bench(noisy), 0.2);
  EXPECT_TRUE(same->regressions.empty());
  absl::StatusOr<BenchDiff> faster = CompareBench(Bench(slow), Bench(base), 0.2);
  EXPECT_TRUE(faster->regressions.empty());
  EXPECT_EQ(faster->improvements.size(), 2u);
  EXPECT_FALSE(CompareBench(nlohmann::json::object(), Bench(base), 0.2).ok());
}

}  // namespace
}  // namespace crisp::bench
