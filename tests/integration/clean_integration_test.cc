// `crisp clean` over gRPC against an in-process fake runtime.
#include <string>

#include "fake_runtime.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "harness/cli/app.h"
#include "harness/cli/cli_testing.h"

namespace crisp {
namespace {

using ::testing::HasSubstr;
using cli::CliResult;
using cli::RunCrispForTest;
using testing::FakeRuntime;
using testing::HealthyRuntime;

runtime::v1::PodSandbox Sandbox(const std::string& id, const std::string& run) {
  runtime::v1::PodSandbox sandbox;
  sandbox.set_id(id);
  sandbox.mutable_metadata()->set_name("pod-" + id);
  sandbox.mutable_metadata()->set_namespace_("crisp");
  (*sandbox.mutable_labels())["crisp.run-id"] = run;
  return sandbox;
}

TEST(CleanIntegrationTest, RemovesOnlySandboxesWithTheLabel) {
  auto config = HealthyRuntime();
  config.sandboxes = {Sandbox("aaa", "run1"), Sandbox("bbb", "run2"), Sandbox("ccc", "run1")};
  FakeRuntime runtime(std::move(config));

  CliResult result = RunCrispForTest({"clean", "-e", runtime.endpoint(), "-l", "crisp.run-id=run1"});
  EXPECT_EQ(result.code, cli::kExitOk) << result.err;
  EXPECT_THAT(result.out, HasSubstr("removed pod sandbox crisp/pod-aaa (aaa)"));
  EXPECT_THAT(result.out, HasSubstr("clean: removed 2 pod sandboxes from " + runtime.endpoint()));
  auto left = runtime.sandboxes();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].id(), "bbb");
}

TEST(CleanIntegrationTest, AllRemovesEverythingAndIsIdempotent) {
  auto config = HealthyRuntime();
  config.sandboxes = {Sandbox("aaa", "run1"), Sandbox("bbb", "run2")};
  FakeRuntime runtime(std::move(config));
  EXPECT_EQ(RunCrispForTest({"clean", "-e", runtime.endpoint(), "--all"}).code, cli::kExitOk);
  EXPECT_TRUE(runtime.sandboxes().empty());
  CliResult again = RunCrispForTest({"clean", "-e", runtime.endpoint(), "--all"});
  EXPECT_EQ(again.code, cli::kExitOk);
  EXPECT_THAT(again.out, HasSubstr("removed 0 pod sandboxes"));
}

TEST(CleanIntegrationTest, RefusesWithoutAScopeOrWithABadLabel) {
  FakeRuntime runtime(HealthyRuntime());
  CliResult none = RunCrispForTest({"clean", "-e", runtime.endpoint()});
  EXPECT_EQ(none.code, cli::kExitUsage);
  EXPECT_THAT(none.err, HasSubstr("exactly one of --all or --label"));
  CliResult bad = RunCrispForTest({"clean", "-e", runtime.endpoint(), "-l", "novalue"});
  EXPECT_EQ(bad.code, cli::kExitUsage);
  EXPECT_THAT(bad.err, HasSubstr("\"novalue\" is not KEY=VALUE"));
}

}  // namespace
}  // namespace crisp
