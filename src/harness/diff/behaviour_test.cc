#include "harness/diff/behaviour.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crisp::diff {
namespace {

using nlohmann::json;

json Step(const std::string& method, const std::string& code, json response) {
  return {{"name", method}, {"method", method},
          {"observations", {{{"code_name", code}, {"response", std::move(response)}}}}};
}

json Scenario(std::vector<json> steps) { return {{"id", "a.b"}, {"steps", steps}}; }

TEST(BehaviourTest, FieldsThatDifferInValueOrPresenceEvenWhenBothPass) {
  json containerd = Scenario({Step("RunPodSandbox", "OK", {{"pod_sandbox_id", "1111"}}),
                              Step("ContainerStatus", "OK",
                                   {{"status", {{"image_ref", "sha256:aa"}, {"reason", "Completed"}, {"created_at", 3}}}})});
  json crispd = Scenario({Step("RunPodSandbox", "OK", {{"pod_sandbox_id", "2222"}}),
                          Step("ContainerStatus", "OK", {{"status", {{"image_ref", "docker.io/x@sha256:aa"}, {"created_at", 9}}}})});
  std::vector<StepDifference> differences = CompareBehaviour({&containerd, &crispd}, Normaliser());
  ASSERT_EQ(differences.size(), 1u);  // the IDs and times normalise away; step 1 agrees
  const StepDifference& step = differences[0];
  EXPECT_EQ(step.step, 2);
  EXPECT_EQ(step.codes, (std::vector<std::string>{"OK", "OK"}));
  ASSERT_EQ(step.fields.size(), 2u);
  EXPECT_EQ(step.fields[0].path, "response.status.image_ref");
  EXPECT_EQ(step.fields[0].values[1], json("docker.io/x@sha256:aa"));
  EXPECT_EQ(step.fields[1].path, "response.status.reason");
  EXPECT_EQ(step.fields[1].values[0], json("Completed"));
  EXPECT_FALSE(step.fields[1].values[1].has_value());  // absent on crispd
}

TEST(BehaviourTest, CodesDifferAndStepsOnlyOneSideReachedAreNotDifferences) {
  json a = Scenario({Step("StopContainer", "NotFound", nullptr), Step("Version", "OK", {{"runtime_api_version", "v1"}})});
  json b = Scenario({Step("StopContainer", "OK", json::object())});
  std::vector<StepDifference> differences = CompareBehaviour({&a, &b, nullptr}, Normaliser());
  ASSERT_EQ(differences.size(), 1u);
  EXPECT_EQ(differences[0].codes, (std::vector<std::string>{"NotFound", "OK", ""}));
  EXPECT_TRUE(differences[0].fields.empty());  // only sides that answered OK compare fields
}

TEST(BehaviourTest, CleanupFindingsThatDifferAreADifferenceAfterTheLastStep) {
  json a = Scenario({Step("Version", "OK", json::object())});
  json b = a;
  b["findings"] = {"RemoveContainer of a container already gone answered Unknown, not OK or NotFound"};
  std::vector<StepDifference> differences = CompareBehaviour({&a, &b}, Normaliser());
  ASSERT_EQ(differences.size(), 1u);
  EXPECT_EQ(differences[0].step, 2);
  EXPECT_EQ(differences[0].name, "cleanup");
  ASSERT_EQ(differences[0].fields.size(), 1u);
  EXPECT_EQ(differences[0].fields[0].path, "findings");
  EXPECT_EQ(differences[0].fields[0].values[0], json::array());
  EXPECT_EQ(differences[0].fields[0].values[1], b["findings"]);
  a["findings"] = b["findings"];
  EXPECT_TRUE(CompareBehaviour({&a, &b}, Normaliser()).empty());
}

TEST(BehaviourTest, ManyDifferencesAreCapped) {
  json left = json::object(), right = json::object();
  for (int i = 0; i < 40; ++i) {
    left["f" + std::to_string(100 + i)] = i;
    right["f" + std::to_string(100 + i)] = i + 1;
  }
  json a = Scenario({Step("Status", "OK", left)});
  json b = Scenario({Step("Status", "OK", right)});
  std::vector<StepDifference> differences = CompareBehaviour({&a, &b}, Normaliser(), {.max_fields = 10});
  ASSERT_EQ(differences.size(), 1u);
  EXPECT_EQ(differences[0].fields.size(), 10u);
  EXPECT_EQ(differences[0].fields_left_out, 30u);
}

TEST(BehaviourTest, PathsNameListIndexesAndQuoteKeysWithDots) {
  json a = Scenario({Step("ContainerStatus", "OK", {{"status", {{"labels", {{"crisp.io/x", "1"}}}, {"mounts", {{{"a", 1}}, {{"a", 2}}}}}}})});
  json b = Scenario({Step("ContainerStatus", "OK", {{"status", {{"labels", {{"crisp.io/x", "2"}}}, {"mounts", {{{"a", 1}}, {{"a", 3}}}}}}})});
  std::vector<StepDifference> differences = CompareBehaviour({&a, &b}, Normaliser());
  ASSERT_EQ(differences.size(), 1u);
  std::vector<std::string> paths;
  for (const FieldDifference& field : differences[0].fields) paths.push_back(field.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"response.status.labels['crisp.io/x']", "response.status.mounts[1].a"}));
}

TEST(BehaviourTest, HostStepResultsAreComparedWithTheAreaAsASymbol) {
  auto host = [](const std::string& area, int status) {
    json step = {{"name", "host http_get"}, {"method", ""}, {"kind", "host"},
                 {"observations", {{{"host", "http_get"}, {"args", json::object()},
                                    {"result", {{"status", status}, {"path", area + "/dir-1"}}}}}}};
    return json{{"id", "a.b"}, {"steps", {step}}, {"substitutions", {{area, "${host.area}"}}}};
  };
  json a = host("/tmp/crisp-host-aaa", 200);
  json b = host("/tmp/crisp-host-bbb", 404);
  std::vector<StepDifference> differences = CompareBehaviour({&a, &b}, Normaliser());
  ASSERT_EQ(differences.size(), 1u);
  EXPECT_EQ(differences[0].codes, (std::vector<std::string>{"host", "host"}));
  ASSERT_EQ(differences[0].fields.size(), 1u);  // the paths agree once the area is a symbol
  EXPECT_EQ(differences[0].fields[0].path, "host.status");
}

TEST(BehaviourTest, AnEmptyListIsTheSameAsAnAbsentOne) {
  json a = Scenario({Step("Status", "OK", {{"runtime_handlers", json::array()}})});
  json b = Scenario({Step("Status", "OK", json::object())});
  EXPECT_TRUE(CompareBehaviour({&a, &b}, Normaliser()).empty());
}

}  // namespace
}  // namespace crisp::diff
