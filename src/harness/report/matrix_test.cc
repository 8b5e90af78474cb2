#include "harness/report/matrix.h"
#include "harness/report/matrix_html.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crisp::report {
namespace {

using ::testing::HasSubstr;
using runner::RunResult;
using runner::ScenarioResult;
using runner::StepResult;
using runner::Verdict;

StepResult Step(const std::string& name, const std::string& code) {
  StepResult step;
  step.name = name;
  step.observations.push_back({{"code_name", code}});
  return step;
}

RunResult RuntimeRun(const std::string& name, const std::string& runtime, std::vector<ScenarioResult> scenarios) {
  RunResult run;
  run.endpoint.name = name;
  run.runtime_version = {{"runtime_name", runtime}, {"runtime_version", "1.0"}};
  run.scenarios = std::move(scenarios);
  return run;
}

ScenarioResult Scenario(const std::string& id, Verdict verdict, std::vector<StepResult> steps,
                        const std::string& reason = "") {
  ScenarioResult scenario;
  scenario.id = id;
  scenario.suite = "s";
  scenario.verdict = verdict;
  scenario.reason = reason;
  scenario.steps = std::move(steps);
  return scenario;
}

TEST(MatrixTest, TableTotalsFailuresAndStepDifferencesEvenWhenBothPass) {
  std::vector<RunResult> runs = {
      RuntimeRun("containerd", "containerd", {Scenario("pod.stop", Verdict::kPass, {Step("Run", "OK"), Step("Stop", "NotFound")}),
                                       Scenario("pod.only-here", Verdict::kPass, {Step("Run", "OK")})}),
      RuntimeRun("crispd", "crispd", {Scenario("pod.stop", Verdict::kPass, {Step("Run", "OK"), Step("Stop", "OK")}),
                               Scenario("pod.broken", Verdict::kFail, {Step("Run", "Internal")}, "step 1 (Run): boom")})};
  std::string md = MatrixMarkdown(runs);
  EXPECT_THAT(md, HasSubstr("## crisp matrix: 3 scenarios × 2 runtimes"));
  EXPECT_THAT(md, HasSubstr("| scenario | containerd (containerd 1.0) | crispd (crispd 1.0) |"));
  EXPECT_THAT(md, HasSubstr("| `pod.stop` | ✅ pass | ✅ pass |"));
  EXPECT_THAT(md, HasSubstr("| `pod.only-here` | ✅ pass | n.a. |"));
  EXPECT_THAT(md, HasSubstr("| `pod.broken` | n.a. | ❌ fail |"));
  EXPECT_THAT(md, HasSubstr("**Totals:** containerd 2/2 pass · crispd 1/2 pass (1 fail or error)"));
  EXPECT_THAT(md, HasSubstr("- **crispd** `pod.broken` fail: step 1 (Run): boom"));
  EXPECT_THAT(md, HasSubstr("- `pod.stop` step 2 `Stop`: containerd `NotFound`, crispd `OK`"));

  std::vector<StepDifference> differences = StepDifferences(runs);
  ASSERT_EQ(differences.size(), 1u);  // steps reached by only one runtime are not differences
  nlohmann::json json = MatrixJson(runs);
  EXPECT_EQ(json["schema"], "crisp.matrix/v1");
  EXPECT_EQ(json["runs"].size(), 2u);
  EXPECT_EQ(json["differences"][0]["codes"]["crispd"], "OK");
}

TEST(MatrixTest, HtmlIsSelfContainedAndItsDataCannotCloseTheScript) {
  std::vector<RunResult> runs = {RuntimeRun("a", "x", {Scenario("v.v", Verdict::kFail, {Step("Version", "OK")},
                                                                "</script><script>alert(1)</script>")})};
  std::string html = MatrixHtml(runs);
  EXPECT_THAT(html, HasSubstr("<script id=\"data\" type=\"application/json\">"));
  EXPECT_EQ(html.find("</script><script>alert"), std::string::npos);
  EXPECT_THAT(html, HasSubstr("\\u003c/script>"));
  EXPECT_EQ(html.find("http://"), std::string::npos);   // no CDN, nothing fetched
  EXPECT_EQ(html.find("https://"), std::string::npos);
}

TEST(MatrixTest, SaysSoWhenEveryStepAgrees) {
  std::vector<RunResult> runs = {RuntimeRun("a", "x", {Scenario("v.v", Verdict::kPass, {Step("Version", "OK")})}),
                                 RuntimeRun("b", "y", {Scenario("v.v", Verdict::kPass, {Step("Version", "OK")})})};
  EXPECT_THAT(MatrixMarkdown(runs), HasSubstr("Every step that every runtime reached ended with the same gRPC code."));
}

}  // namespace
}  // namespace crisp::report
