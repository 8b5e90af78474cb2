#include "harness/report/fleet.h"
#include "harness/report/reports.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crisp::report {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using runner::RunResult;
using runner::ScenarioResult;
using runner::Verdict;

ScenarioResult Scenario(const std::string& id, Verdict verdict, const std::string& file = "suites/a.yaml") {
  ScenarioResult scenario;
  scenario.id = id;
  scenario.file = file;
  scenario.verdict = verdict;
  return scenario;
}

FleetInput NodeRun(const std::string& source, const std::string& node, const std::string& runtime,
               const std::string& version, const std::string& shard, std::vector<ScenarioResult> scenarios,
               const std::string& kernel = "6.1.0") {
  RunResult run;
  run.run_id = source;
  run.endpoint.name = runtime;
  run.runtime_version = {{"runtime_name", runtime}, {"runtime_version", version}};
  run.node = {{"name", node}, {"kernel", kernel}, {"os", "Debian GNU/Linux 12 (bookworm)"}, {"arch", "x86_64"}};
  run.shard = shard;
  run.scenarios = std::move(scenarios);
  return {source, std::move(run)};
}

std::vector<std::string> Ids(const RunResult& run) {
  std::vector<std::string> ids;
  for (const ScenarioResult& scenario : run.scenarios) ids.push_back(scenario.id);
  return ids;
}

TEST(FleetTest, ShardsOfOneNodeFoldIntoOneColumn) {
  std::vector<FleetInput> inputs;
  inputs.push_back(NodeRun("s1.json", "node-a", "containerd", "1.6.20", "1/3", {Scenario("x.one", Verdict::kPass)}));
  inputs.push_back(NodeRun("s2.json", "node-a", "containerd", "1.6.20", "2/3",
                       {Scenario("x.two", Verdict::kFail), Scenario("b.three", Verdict::kPass, "suites/0.yaml")}));
  inputs.push_back(NodeRun("s3.json", "node-a", "containerd", "1.6.20", "3/3", {Scenario("x.four", Verdict::kNotApplicable)}));
  absl::StatusOr<Fleet> fleet = FoldFleet(std::move(inputs));
  ASSERT_TRUE(fleet.ok()) << fleet.status();
  ASSERT_EQ(fleet->columns.size(), 1u);
  const RunResult& column = fleet->columns[0];
  EXPECT_EQ(column.endpoint.name, "node-a/containerd");
  // By suite file, then in the order the shards had them.
  EXPECT_THAT(Ids(column), ElementsAre("b.three", "x.one", "x.two", "x.four"));
  EXPECT_EQ(column.Count(Verdict::kFail), 1);
  EXPECT_EQ(column.shard, "");
  EXPECT_TRUE(fleet->conflicts.empty());
  EXPECT_TRUE(fleet->notes.empty());
  EXPECT_EQ(fleet->nodes[0]["shards"], nlohmann::json({"1/3", "2/3", "3/3"}));
  EXPECT_EQ(fleet->nodes[0]["sources"], nlohmann::json({"s1.json", "s2.json", "s3.json"}));
}

TEST(FleetTest, AMissingShardIsSaid) {
  std::vector<FleetInput> inputs;
  inputs.push_back(NodeRun("s1.json", "node-a", "crio", "1.26.4", "1/3", {Scenario("x.one", Verdict::kPass)}));
  inputs.push_back(NodeRun("s3.json", "node-a", "crio", "1.26.4", "3/3", {Scenario("x.two", Verdict::kPass)}));
  absl::StatusOr<Fleet> fleet = FoldFleet(std::move(inputs));
  ASSERT_TRUE(fleet.ok());
  ASSERT_EQ(fleet->notes.size(), 1u);
  EXPECT_THAT(fleet->notes[0], HasSubstr("shard 2/3 is missing"));
}

TEST(FleetTest, ConflictingVerdictsBecomeAnErrorNamingBoth) {
  std::vector<FleetInput> inputs;
  inputs.push_back(NodeRun("a.json", "node-a", "containerd", "1.6.20", "", {Scenario("x.one", Verdict::kPass)}));
  ScenarioResult failed = Scenario("x.one", Verdict::kFail);
  failed.reason = "step 2 (StartContainer): Unknown";
  inputs.push_back(NodeRun("b.json", "node-a", "containerd", "1.6.20", "", {failed, Scenario("x.two", Verdict::kPass)}));
  absl::StatusOr<Fleet> fleet = FoldFleet(std::move(inputs));
  ASSERT_TRUE(fleet.ok());
  ASSERT_EQ(fleet->columns.size(), 1u);
  ASSERT_EQ(fleet->conflicts.size(), 1u);
  EXPECT_EQ(fleet->conflicts[0], "node-a/containerd: x.one is pass in a.json but fail in b.json");
  const ScenarioResult& merged = fleet->columns[0].scenarios[0];
  EXPECT_EQ(merged.verdict, Verdict::kError);
  EXPECT_THAT(merged.reason, HasSubstr("conflicting verdicts"));
  EXPECT_THAT(merged.reason, HasSubstr("StartContainer): Unknown"));
  EXPECT_THAT(FleetMarkdown(*fleet), HasSubstr("Conflicting verdicts (1)"));
}

TEST(FleetTest, TheSameVerdictTwiceIsANoteNotAConflict) {
  std::vector<FleetInput> inputs;
  inputs.push_back(NodeRun("a.json", "node-a", "containerd", "1.6.20", "", {Scenario("x.one", Verdict::kPass)}));
  inputs.push_back(NodeRun("b.json", "node-a", "containerd", "1.6.20", "", {Scenario("x.one", Verdict::kPass)}));
  absl::StatusOr<Fleet> fleet = FoldFleet(std::move(inputs));
  ASSERT_TRUE(fleet.ok());
  EXPECT_TRUE(fleet->conflicts.empty());
  ASSERT_EQ(fleet->notes.size(), 1u);
  EXPECT_THAT(fleet->notes[0], HasSubstr("ran in both a.json and b.json, pass both times"));
}

TEST(FleetTest, ColumnsAreGroupedByRuntimeVersionKernelAndOs) {
  std::vector<FleetInput> inputs;
  inputs.push_back(NodeRun("1.json", "node-c", "containerd", "1.6.20", "", {Scenario("x", Verdict::kPass)}));
  inputs.push_back(NodeRun("2.json", "node-b", "crispd", "0.1.0", "", {Scenario("x", Verdict::kPass)}));
  inputs.push_back(NodeRun("3.json", "node-a", "containerd", "1.6.20", "", {Scenario("x", Verdict::kPass)}));
  inputs.push_back(NodeRun("4.json", "node-d", "containerd", "1.6.20", "", {Scenario("x", Verdict::kPass)}, "6.8.0"));
  absl::StatusOr<Fleet> fleet = FoldFleet(std::move(inputs));
  ASSERT_TRUE(fleet.ok());
  ASSERT_EQ(fleet->groups.size(), 3u);
  std::vector<std::string> names;
  for (const RunResult& column : fleet->columns) names.push_back(column.endpoint.name);
  // Group 1 (containerd 1.6.20 on 6.1.0) by node name, then crispd, then the other kernel.
  EXPECT_THAT(names, ElementsAre("node-a/containerd", "node-c/containerd", "node-b/crispd", "node-d/containerd"));
  EXPECT_EQ(fleet->groups[0]["columns"], nlohmann::json({"node-a/containerd", "node-c/containerd"}));
  EXPECT_EQ(fleet->groups[2]["kernel"], "6.8.0");
  std::string md = FleetMarkdown(*fleet);
  EXPECT_THAT(md, HasSubstr("4 node run(s) in 3 group(s)"));
  EXPECT_THAT(md, HasSubstr("| G2 | crispd 0.1.0 | 6.1.0 | Debian GNU/Linux 12 (bookworm) | `node-b/crispd` |"));
}

TEST(FleetTest, AMergesResultsReadBackAndMergeAgainUnchanged) {
  std::vector<FleetInput> inputs;
  FleetInput one = NodeRun("a.json", "node-a", "containerd", "1.6.20", "", {Scenario("x.one", Verdict::kPass)});
  one.run.endpoint.socket_path = "/run/containerd/containerd.sock";
  inputs.push_back(std::move(one));
  absl::StatusOr<Fleet> fleet = FoldFleet(std::move(inputs));
  ASSERT_TRUE(fleet.ok());
  // A column's results.json, as crisp merge writes it, read back.
  absl::StatusOr<RunResult> back = RunFromResultsJson(ResultsJson(fleet->columns[0]));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->endpoint.name, "node-a/containerd");
  std::vector<FleetInput> again;
  again.push_back({"merged.json", *std::move(back)});
  absl::StatusOr<Fleet> refolded = FoldFleet(std::move(again));
  ASSERT_TRUE(refolded.ok());
  EXPECT_EQ(refolded->columns[0].endpoint.name, "node-a/containerd");
}

TEST(FleetTest, NothingToFoldIsAnError) { EXPECT_FALSE(FoldFleet({}).ok()); }

}  // namespace
}  // namespace crisp::report
