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

TEST(RunDiffTest, ReportsNormalisedFieldChangesButNotIdsOrTimes) {
  auto status = [](const std::string& id, int64_t created, json reason) {
    json response = {{"status", {{"id", id}, {"created_at", created}, {"state", "CONTAINER_EXITED"}}}};
    if (!reason.is_null()) response["status"]["reason"] = reason;
    json observation = {{"code_name", "OK"}, {"response", response}, {"latency_ns", 1000}};
    return json::array({{{"index", 1}, {"name", "ContainerStatus"}, {"method", "ContainerStatus"},
                         {"observations", {observation}}}});
  };
  json old_run = Results({Scenario("c.exit", "pass", status("aaa", 10, "Completed"))});
  json new_run = Results({Scenario("c.exit", "pass", status("bbb", 99, nullptr))});
  auto diff = CompareRuns(old_run, new_run);
  ASSERT_TRUE(diff.ok());
  ASSERT_THAT(diff->behaviour, SizeIs(1));  // not the ID, not the time
  EXPECT_EQ(diff->behaviour[0].what, "response.status.reason: \"Completed\" -> absent");

  // A rule file can make the change go away.
  absl::StatusOr<std::vector<Rule>> rules = ParseRules("rules:\n  - path: '**.reason'\n    action: drop\n", "r.yaml");
  ASSERT_TRUE(rules.ok());
  Normaliser normaliser(*rules);
  auto quiet = CompareRuns(old_run, new_run, {.normaliser = &normaliser});
  ASSERT_TRUE(quiet.ok());
  EXPECT_TRUE(quiet->behaviour.empty());
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
