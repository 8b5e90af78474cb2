#include "harness/diff/run_diff.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crisp::diff {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;
using nlohmann::json;

json Step(const std::string& name, const std::string& code, int64_t latency_ns) {
  json observation = json::object({{"code_name", code}, {"latency_ns", latency_ns}});
  return json::object({{"index", 1}, {"name", name}, {"observations", json::array({observation})}});
}

json Scenario(const std::string& id, const std::string& verdict, json steps = json::array(), std::string reason = "") {
  return json::object({{"id", id}, {"verdict", verdict}, {"reason", reason}, {"steps", std::move(steps)}});
}

json Results(std::vector<json> scenarios) {
  return json::object({{"schema", "crisp.results/v1"}, {"scenarios", json(scenarios)}});
}

TEST(RunDiffTest, SortsVerdictChanges) {
  json old_run = Results({Scenario("a.pass-to-fail", "pass"), Scenario("a.fail-to-pass", "fail"),
                      Scenario("a.pass-to-skip", "pass"), Scenario("a.same", "pass"), Scenario("a.gone", "pass")});
  json new_run = Results({Scenario("a.pass-to-fail", "fail", json::array(), "step 2 (X): boom"),
                      Scenario("a.fail-to-pass", "pass"), Scenario("a.pass-to-skip", "skip"), Scenario("a.same", "pass"),
                      Scenario("a.new", "pass")});
  auto diff = CompareRuns(old_run, new_run);
  ASSERT_TRUE(diff.ok()) << diff.status();
  ASSERT_THAT(diff->regressions, SizeIs(1));
  EXPECT_EQ(diff->regressions[0].id, "a.pass-to-fail");
  EXPECT_EQ(diff->regressions[0].reason, "step 2 (X): boom");
  ASSERT_THAT(diff->fixes, SizeIs(1));
  EXPECT_EQ(diff->fixes[0].id, "a.fail-to-pass");
  ASSERT_THAT(diff->other, SizeIs(1));
  EXPECT_EQ(diff->other[0].new_verdict, "skip");
  ASSERT_THAT(diff->added, SizeIs(1));
  EXPECT_EQ(diff->added[0].id, "a.new");
  ASSERT_THAT(diff->removed, SizeIs(1));
  EXPECT_EQ(diff->removed[0].id, "a.gone");
  EXPECT_THAT(diff->ToText(), HasSubstr("1 regression(s), 1 fix(es)"));
  EXPECT_EQ(diff->ToJson()["regressions"][0]["old"], "pass");
}

TEST(RunDiffTest, ReportsStepCodeChangesEvenWhenBothPass) {
  json old_run = Results({Scenario("p.stop", "pass", json::array({Step("StopPodSandbox", "NotFound", 1'000'000)}))});
  json new_run = Results({Scenario("p.stop", "pass", json::array({Step("StopPodSandbox", "OK", 1'000'000)}))});
  auto diff = CompareRuns(old_run, new_run);
  ASSERT_TRUE(diff.ok());
  ASSERT_THAT(diff->behaviour, SizeIs(1));
  EXPECT_EQ(diff->behaviour[0].what, "code NotFound -> OK");
  EXPECT_TRUE(diff->regressions.empty());
}

TEST(RunDiffTest, LatencyPastBothThresholdsOnly) {
  json old_run = Results({Scenario("l.x", "pass", json::array({Step("ExecSync", "OK", 100'000'000)})),
                      Scenario("l.jitter", "pass", json::array({Step("Version", "OK", 1'000'000)}))});
  json new_run = Results({Scenario("l.x", "pass", json::array({Step("ExecSync", "OK", 400'000'000)})),
                      Scenario("l.jitter", "pass", json::array({Step("Version", "OK", 9'000'000)}))});  // 9x, but only +8ms
  auto diff = CompareRuns(old_run, new_run);
  ASSERT_TRUE(diff.ok());
  ASSERT_THAT(diff->latency, SizeIs(1));
  EXPECT_EQ(diff->latency[0].scenario, "l.x");
  EXPECT_EQ(diff->latency[0].what, "latency 100.0ms -> 400.0ms");
}

TEST(RunDiffTest, RejectsWhatIsNotAResultsFile) {
  auto diff = CompareRuns(json::object({{"foo", 1}}), Results({}));
  EXPECT_EQ(diff.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(diff.status().message(), HasSubstr("the old file is not a crisp results file"));
}

}  // namespace
}  // namespace crisp::diff
