#include "harness/report/matrix.h"
#include "harness/report/matrix_html.h"
#include "harness/report/coverage.h"
#include "harness/report/reports.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

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
  Matrix matrix = BuildMatrix(runs, diff::Normaliser());
  std::string md = MatrixMarkdown(matrix);
  EXPECT_THAT(md, HasSubstr("## crisp matrix: 3 scenarios × 2 runtimes"));
  EXPECT_THAT(md, HasSubstr("| scenario | containerd (containerd 1.0) | crispd (crispd 1.0) |"));
  EXPECT_THAT(md, HasSubstr("| `pod.stop` | ✅ pass | ✅ pass |"));
  EXPECT_THAT(md, HasSubstr("| `pod.only-here` | ✅ pass | — not run |"));
  EXPECT_THAT(md, HasSubstr("| `pod.broken` | — not run | ❌ fail |"));
  EXPECT_THAT(md, HasSubstr("**Totals:** containerd 2/2 pass · crispd 1/2 pass (1 fail or error)"));
  EXPECT_THAT(md, HasSubstr("- **crispd** `pod.broken` fail: step 1 (Run): boom"));
  EXPECT_THAT(md, HasSubstr("- `pod.stop` step 2 `Stop`: containerd `NotFound`, crispd `OK`"));

  ASSERT_EQ(matrix.differences.size(), 1u);  // steps reached by only one runtime are not differences
  nlohmann::json json = MatrixJson(matrix);
  EXPECT_EQ(json["schema"], "crisp.matrix/v1");
  EXPECT_EQ(json["runs"].size(), 2u);
  EXPECT_EQ(json["differences"][0]["codes"]["crispd"], "OK");
}

TEST(MatrixTest, HtmlIsSelfContainedAndItsDataCannotCloseTheScript) {
  std::vector<RunResult> runs = {RuntimeRun("a", "x", {Scenario("v.v", Verdict::kFail, {Step("Version", "OK")},
                                                                "</script><script>alert(1)</script>")})};
  std::string html = MatrixHtml(MatrixJson(BuildMatrix(runs, diff::Normaliser())));
  EXPECT_THAT(html, HasSubstr("<script id=\"data\" type=\"application/json\">"));
  EXPECT_EQ(html.find("</script><script>alert"), std::string::npos);
  EXPECT_THAT(html, HasSubstr("\\u003c/script>"));
  EXPECT_EQ(html.find("http://"), std::string::npos);   // no CDN, nothing fetched
  EXPECT_EQ(html.find("https://"), std::string::npos);
}

TEST(MatrixTest, SaysSoWhenEveryStepAgrees) {
  std::vector<RunResult> runs = {RuntimeRun("a", "x", {Scenario("v.v", Verdict::kPass, {Step("Version", "OK")})}),
                                 RuntimeRun("b", "y", {Scenario("v.v", Verdict::kPass, {Step("Version", "OK")})})};
  EXPECT_THAT(MatrixMarkdown(BuildMatrix(runs, diff::Normaliser())),
              HasSubstr("Every step that two or more runtimes reached ended with the same gRPC code and, after "
                        "normalisation, the same answer."));
}

TEST(MatrixTest, FieldDifferencesNotApplicableKnownAndFixedCells) {
  auto status = [](nlohmann::json response) {
    StepResult step = Step("ContainerStatus", "OK");
    step.method = "ContainerStatus";
    step.observations[0]["response"] = std::move(response);
    return step;
  };
  ScenarioResult known = Scenario("image.digest", Verdict::kKnown, {Step("Pull", "NotFound")}, "step 1 (Pull): gone");
  known.baseline = runner::BaselineMatch{"upstream digest moved", "https://example.org/1", Verdict::kFail};
  ScenarioResult fixed = Scenario("image.digest", Verdict::kPass, {Step("Pull", "OK")});
  fixed.baseline = runner::BaselineMatch{"upstream digest moved", "", Verdict::kPass};
  std::vector<RunResult> runs = {
      RuntimeRun("containerd", "containerd",
                 {Scenario("container.status", Verdict::kPass, {status({{"status", {{"image_ref", "sha256:1"}, {"created_at", 5}}}})}),
                  Scenario("security.apparmor", Verdict::kNotApplicable, {}, "requires apparmor: the host has no AppArmor"),
                  known}),
      RuntimeRun("reference", "crispd",
                 {Scenario("container.status", Verdict::kPass, {status({{"status", {{"image_ref", "docker.io/r@sha256:1"}, {"created_at", 8}}}})}),
                  Scenario("security.apparmor", Verdict::kNotApplicable, {}, "requires apparmor: the host has no AppArmor"),
                  fixed})};
  Matrix matrix = BuildMatrix(runs, diff::Normaliser());
  std::string md = MatrixMarkdown(matrix);
  EXPECT_THAT(md, HasSubstr("| `security.apparmor` | ➖ n.a. | ➖ n.a. |"));
  EXPECT_THAT(md, HasSubstr("| `image.digest` | 📌 known | ✅ pass |"));
  EXPECT_THAT(md, HasSubstr("containerd 1/3 pass (1 n.a., 1 known)"));
  EXPECT_THAT(md, HasSubstr("### Fixed: remove from baseline"));
  EXPECT_THAT(md, HasSubstr("- **reference** `image.digest` passes: fixed, remove it from the baseline"));
  EXPECT_THAT(md, HasSubstr("- **containerd** `image.digest` known failure: upstream digest moved (https://example.org/1)"));
  // created_at normalises away; image_ref is a real difference
  EXPECT_THAT(md, HasSubstr("- `container.status` step 1 `ContainerStatus`:\n  - `response.status.image_ref`: "
                            "containerd `\"sha256:1\"`, reference `\"docker.io/r@sha256:1\"`"));
  nlohmann::json json = MatrixJson(matrix);
  ASSERT_EQ(json["differences"].size(), 2u);  // and image.digest's Pull: NotFound against OK
  EXPECT_EQ(json["differences"][1]["codes"]["containerd"], "NotFound");
  EXPECT_EQ(json["differences"][0]["fields"][0]["values"]["reference"], "docker.io/r@sha256:1");
  EXPECT_EQ(json["runs"][1]["scenarios"][2]["baseline"]["fixed"], true);
  EXPECT_EQ(json["runs"][0]["summary"]["known"], 1);
  EXPECT_EQ(json["runs"][0]["summary"]["na"], 1);
}

TEST(CoverageTest, CritestListsThatAreNotMapsAreErrorsNotCrashes) {
  std::string path = ::testing::TempDir() + "/crisp-critest-" + std::to_string(getpid()) + ".yaml";
  std::ofstream(path) << "version: v1\nspecs: [just, words]\n";
  absl::StatusOr<CritestList> list = LoadCritestList(path);
  ASSERT_FALSE(list.ok());
  EXPECT_THAT(std::string(list.status().message()), HasSubstr(path + ":"));
  std::ofstream(path) << "version: v1\nspecs:\n  - key: a.b\n    spec: s\n    here: runs\n";
  absl::StatusOr<CritestList> good = LoadCritestList(path);
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_EQ(good->specs.size(), 1u);
  std::filesystem::remove(path);
}

// Two critest versions: a key known to either is fine, a key known to
// neither is a problem, and each version gets its own counts.
TEST(CoverageTest, EachCritestVersionIsCountedAndUnknownKeysAreProblems) {
  CritestList old_list{"v1", {{"a.kept", "A", "kept", "runs", ""}, {"a.removed", "A", "removed", "runs", ""}}};
  CritestList head{"HEAD",
                   {{"a.kept", "A", "kept", "runs", ""},
                    {"a.new", "A", "new", "runs", ""},
                    {"nri.x", "NRI", "plugin", "out-of-scope", "a plugin socket, not the CRI"}}};
  scenario::Scenario kept, removed, stray;
  kept.id = "s.kept";
  kept.critest = {"a.kept"};
  removed.id = "s.removed";
  removed.critest = {"a.removed"};
  stray.id = "s.stray";
  stray.critest = {"a.typo"};
  Coverage two = BuildCoverage({&kept, &removed}, {old_list, head});
  EXPECT_TRUE(two.problems.empty());
  ASSERT_EQ(two.lists.size(), 2u);
  EXPECT_EQ(two.lists[0].runnable_covered, 2);
  EXPECT_EQ(two.lists[1].runnable, 2);
  EXPECT_EQ(two.lists[1].runnable_covered, 1);
  EXPECT_THAT(two.markdown, HasSubstr("| v1 | 2 | 2 | 2 | 0 |\n| HEAD | 3 | 2 | 1 | 1 |"));
  EXPECT_THAT(two.markdown, HasSubstr("## critest HEAD specs\n\n1 of the 2 specs"));
  EXPECT_THAT(two.markdown, HasSubstr("(the rest: 1 out-of-scope)"));
  EXPECT_THAT(two.markdown, HasSubstr("| A: new | yes | **none** |"));
  Coverage bad = BuildCoverage({&stray}, {old_list, head});
  ASSERT_EQ(bad.problems.size(), 1u);
  EXPECT_THAT(bad.problems[0], HasSubstr("s.stray names critest spec \"a.typo\", which is in no critest list"));
}

// A program's output need not be UTF-8; the reports must still be written.
TEST(MatrixTest, BytesThatAreNotUtf8DoNotLoseTheReports) {
  StepResult step = Step("log of app", "");
  step.observations[0] = {{"path", "/x"}, {"log", {{"text", "caf\xe9 \xff"}}}};
  std::vector<RunResult> runs = {RuntimeRun("a", "x", {Scenario("logs.bytes", Verdict::kFail, {step}, "got \xff")})};
  std::string dir = ::testing::TempDir() + "/crisp-report-bytes-" + std::to_string(getpid());
  ASSERT_TRUE(WriteReports(runs[0], dir).ok());
  Matrix matrix = BuildMatrix(runs, diff::Normaliser());
  ASSERT_TRUE(WriteMatrixReports(matrix, MatrixMarkdown(matrix), dir).ok());
  std::ifstream in(dir + "/results.json");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, HasSubstr("caf\xef\xbf\xbd"));  // U+FFFD in place of the bad byte
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace crisp::report
