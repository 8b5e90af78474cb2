#include "harness/runner/baseline.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crisp::runner {
namespace {

using ::testing::HasSubstr;

TEST(BaselineTest, VersionRanges) {
  EXPECT_TRUE(*VersionInRange("1.6.20~ds1", ">=1.6 <1.7"));
  EXPECT_FALSE(*VersionInRange("1.7.0", ">=1.6 <1.7"));
  EXPECT_TRUE(*VersionInRange("v1.26.1", "1.26"));
  EXPECT_FALSE(*VersionInRange("1.260.1", "1.26"));
  EXPECT_TRUE(*VersionInRange("1.6.20", "=1.6.20"));
  EXPECT_TRUE(*VersionInRange("0.1.0", "*"));
  EXPECT_TRUE(*VersionInRange("0.1.0", ""));
  EXPECT_FALSE(VersionInRange("1.0", ">=banana").ok());
}

TEST(BaselineTest, MarksKnownFailuresAndStaleEntries) {
  absl::StatusOr<Baseline> baseline = ParseBaseline(R"(
known_failures:
  - scenario: image.pull-*
    runtime: containerd
    versions: ">=1.6 <1.7"
    reason: needs a fixed upstream digest
    link: https://example.org/issue/1
  - scenario: pod.stop
    runtime: reference
    reason: stop is slow
)", "b.yaml");
  ASSERT_TRUE(baseline.ok()) << baseline.status();

  nlohmann::json version = {{"runtime_name", "containerd"}, {"runtime_version", "1.6.20~ds1"}};
  ScenarioResult failing, passing, not_named, not_applicable;
  failing.id = "image.pull-digest";
  failing.verdict = Verdict::kFail;
  failing.reason = "step 2: NotFound";
  passing.id = "image.pull-tag";
  passing.verdict = Verdict::kPass;
  not_named.id = "pod.stop";
  not_named.verdict = Verdict::kFail;
  not_applicable.id = "image.pull-auth";
  not_applicable.verdict = Verdict::kNotApplicable;
  std::vector<ScenarioResult> scenarios = {failing, passing, not_named, not_applicable};
  for (ScenarioResult& scenario : scenarios) ApplyBaseline(*baseline, "ctr", version, scenario);

  EXPECT_EQ(scenarios[0].verdict, Verdict::kKnown);
  ASSERT_TRUE(scenarios[0].baseline);
  EXPECT_EQ(scenarios[0].baseline->actual, Verdict::kFail);
  EXPECT_EQ(scenarios[0].baseline->link, "https://example.org/issue/1");
  EXPECT_EQ(scenarios[0].reason, "step 2: NotFound");  // why it failed is kept
  EXPECT_EQ(scenarios[1].verdict, Verdict::kPass);
  ASSERT_TRUE(scenarios[1].baseline);
  EXPECT_TRUE(scenarios[1].IsStale());  // "fixed: remove from baseline"
  EXPECT_EQ(scenarios[2].verdict, Verdict::kFail);  // the entry is for another runtime
  EXPECT_FALSE(scenarios[3].baseline);

  version["runtime_version"] = "1.7.2";  // outside the range
  ScenarioResult again = failing;
  ApplyBaseline(*baseline, "ctr", version, again);
  EXPECT_EQ(again.verdict, Verdict::kFail);
  version["runtime_version"] = "";  // no version: in no range
  ScenarioResult unversioned = failing;
  ApplyBaseline(*baseline, "ctr", version, unversioned);
  EXPECT_EQ(unversioned.verdict, Verdict::kFail);
  // The endpoint's name matches too: the second entry is for "reference".
  ScenarioResult by_name = not_named;
  ApplyBaseline(*baseline, "reference", nlohmann::json::object(), by_name);
  EXPECT_EQ(by_name.verdict, Verdict::kKnown);
}

TEST(BaselineTest, AnIntermittentEntryMarksFailuresAndLeavesAPassAlone) {
  absl::StatusOr<Baseline> baseline = ParseBaseline(R"(
known_failures:
  - scenario: robustness.concurrent-remove-pod
    runtime: containerd
    reason: two removals race
    intermittent: true
)", "b.yaml");
  ASSERT_TRUE(baseline.ok()) << baseline.status();
  ScenarioResult failing, passing;
  failing.id = passing.id = "robustness.concurrent-remove-pod";
  failing.verdict = Verdict::kFail;
  passing.verdict = Verdict::kPass;
  ApplyBaseline(*baseline, "containerd", nlohmann::json::object(), failing);
  ApplyBaseline(*baseline, "containerd", nlohmann::json::object(), passing);
  EXPECT_EQ(failing.verdict, Verdict::kKnown);
  ASSERT_TRUE(failing.baseline);
  EXPECT_EQ(passing.verdict, Verdict::kPass);
  ASSERT_TRUE(passing.baseline);
  EXPECT_FALSE(passing.IsStale()) << "a race that did not happen is no fix";
}

TEST(BaselineTest, AFailurePatternCoversThatFailureAndNoOther) {
  absl::StatusOr<Baseline> baseline = ParseBaseline(R"(
known_failures:
  - scenario: "image.*"
    runtime: cri-o
    reason: ListImages fails while another image is removed
    intermittent: true
    failure: "step * (ListImages): expected code OK, got Unknown: *"
)", "b.yaml");
  ASSERT_TRUE(baseline.ok()) << baseline.status();
  ScenarioResult raced, other, passing;
  raced.id = other.id = passing.id = "image.list-three-images";
  raced.verdict = other.verdict = Verdict::kFail;
  raced.reason = "step 7 (ListImages): expected code OK, got Unknown: reading image \"ec2f\": image not known";
  other.reason = "step 3 (PullImage): expected code OK, got Unknown: manifest unknown";
  passing.verdict = Verdict::kPass;
  for (ScenarioResult* result : {&raced, &other, &passing}) {
    ApplyBaseline(*baseline, "cri-o", nlohmann::json::object(), *result);
  }
  EXPECT_EQ(raced.verdict, Verdict::kKnown);
  ASSERT_TRUE(raced.baseline);
  EXPECT_EQ(raced.baseline->reason, "ListImages fails while another image is removed");
  EXPECT_EQ(other.verdict, Verdict::kFail) << "an entry about ListImages does not hide a failed pull";
  EXPECT_FALSE(other.baseline);
  EXPECT_EQ(passing.verdict, Verdict::kPass);
  ASSERT_TRUE(passing.baseline) << "a pass is matched, so that runs with and without the race compare alike";
  EXPECT_FALSE(passing.IsStale()) << "a pass says nothing of that one failure";
}

TEST(BaselineTest, BrokenFilesSayWhereAndWhat) {
  auto error = [](std::string_view yaml) { return std::string(ParseBaseline(yaml, "b.yaml").status().message()); };
  EXPECT_THAT(error("known_failures:\n  - scenario: a.b\n    runtime: x\n"), HasSubstr("b.yaml:2:5: an entry needs reason:"));
  EXPECT_THAT(error("known_failures:\n  - scenario: a.b\n    runtime: x\n    reason: r\n    version: 1\n"),
              HasSubstr("b.yaml:5:5: unknown key \"version\""));
  EXPECT_THAT(error("known_failures:\n  - scenario: a.b\n    runtime: x\n    reason: r\n    versions: \">=x\"\n"),
              HasSubstr("b.yaml:5:15: \">=x\" is not a version comparator"));
  EXPECT_THAT(error("known_failures:\n  - scenario: a.b\n    runtime: x\n    reason: r\n    intermittent: sometimes\n"),
              HasSubstr("b.yaml:5:19: intermittent must be true or false"));
  EXPECT_THAT(error("failures: []\n"), HasSubstr("b.yaml:1:1: expected a map with known_failures:"));
  EXPECT_THAT(error("known_failures: [\n"), HasSubstr("b.yaml:"));
  EXPECT_FALSE(LoadBaseline("/nonexistent/baseline.yaml").ok());
  EXPECT_THAT(error("known_failures:\n  - scenario: a.b\n    runtime: x\n    reason: r\n    reason: s\n"),
              HasSubstr("b.yaml:5:5: key \"reason\" appears twice in this map"));
  // yaml-cpp throws on a key that is not text; that is an error here, not a crash.
  EXPECT_THAT(error("known_failures:\n  - ? [a, b]\n    : c\n"), HasSubstr("b.yaml:"));
}

}  // namespace
}  // namespace crisp::runner
