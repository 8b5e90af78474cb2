#include "harness/scenario/variables.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crisp::scenario {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

Variables Saved() {
  Variables variables;
  variables.Set("pod", {{"pod_sandbox_id", "abc123"}, {"request", {{"config", {{"port_mappings", {{{"host_port", 16379}}}}}}}}});
  variables.Set("run", {{"id", "r1"}, {"suffix", "x9"}});
  return variables;
}

TEST(VariablesTest, WholeReferenceKeepsTypeAndPartsAreFormatted) {
  auto resolved = Saved().Resolve({{"pod_sandbox_id", "${pod.pod_sandbox_id}"},
                                   {"port", "${pod.request.config.port_mappings[0].host_port}"},
                                   {"name", "redis-${run.suffix}"},
                                   {"label", "port ${pod.request.config.port_mappings[0].host_port}"},
                                   {"list", {"${run.id}", 3}}});
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ((*resolved)["pod_sandbox_id"], "abc123");
  EXPECT_EQ((*resolved)["port"], 16379);
  EXPECT_EQ((*resolved)["name"], "redis-x9");
  EXPECT_EQ((*resolved)["label"], "port 16379");
  EXPECT_EQ((*resolved)["list"], nlohmann::json({"r1", 3}));
}

TEST(VariablesTest, EscapesAndLoneDollarsAreLiteral) {
  auto resolved = Saved().Resolve("cost $5, literal $${run.id}");
  ASSERT_TRUE(resolved.ok());
  EXPECT_EQ(*resolved, "cost $5, literal ${run.id}");
}

TEST(VariablesTest, UnknownNamesAndPathsAreErrorsThatNameThem) {
  EXPECT_THAT(Saved().Resolve("${ctr.container_id}").status().message(),
              HasSubstr("nothing is saved as \"ctr\""));
  EXPECT_THAT(Saved().Resolve("${pod.nope}").status().message(),
              HasSubstr("\"pod\" has no nope"));
  EXPECT_THAT(Saved().Resolve("x ${run.id").status().message(), HasSubstr("unclosed ${"));
}

TEST(VariablesTest, ReferencedNamesForLoadTimeChecks) {
  std::vector<std::string> errors;
  auto names = ReferencedNames({{"a", "${pod.id}"}, {"b", {"x-${ctr.container_id}-${run.id}"}}}, &errors);
  EXPECT_THAT(names, UnorderedElementsAre("pod", "ctr", "run"));
  EXPECT_TRUE(errors.empty());
  ReferencedNames("${}", &errors);
  ReferencedNames("${a..b}", &errors);
  EXPECT_EQ(errors.size(), 2u);
}

}  // namespace
}  // namespace crisp::scenario
