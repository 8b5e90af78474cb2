// CLI parsing and the errors a user sees; nothing here needs a runtime.
#include "harness/cli/app.h"
#include "harness/cli/cli_testing.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "nlohmann/json.hpp"
#include "gtest/gtest.h"

namespace crisp::cli {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

int Lines(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

TEST(CliTest, HelpOnTheAppAndEverySubcommandExitsZero) {
  CliResult top = RunCrispForTest({"--help"});
  EXPECT_EQ(top.code, kExitOk);
  EXPECT_THAT(top.out, HasSubstr("info"));
  EXPECT_THAT(top.out, HasSubstr("version"));
  EXPECT_THAT(top.err, IsEmpty());

  for (const char* sub : {"info", "version"}) {
    CliResult help = RunCrispForTest({sub, "--help"});
    EXPECT_EQ(help.code, kExitOk) << sub;
    EXPECT_THAT(help.out, HasSubstr(std::string("crisp ") + sub)) << help.out;
    EXPECT_THAT(help.out, HasSubstr("--output")) << sub;
  }
  EXPECT_THAT(RunCrispForTest({"info", "--help"}).out, HasSubstr("--endpoint"));
}

TEST(CliTest, NoSubcommandPrintsHelpAndExitsTwo) {
  CliResult result = RunCrispForTest({});
  EXPECT_EQ(result.code, kExitUsage);
  EXPECT_THAT(result.err, HasSubstr("Subcommands:"));
}

TEST(CliTest, UnknownSubcommandOrFlagIsAUsageError) {
  CliResult unknown = RunCrispForTest({"frobnicate"});
  EXPECT_EQ(unknown.code, kExitUsage);
  EXPECT_THAT(unknown.err, StartsWith("crisp: error: "));
  EXPECT_THAT(unknown.err, HasSubstr("Usage: crisp"));

  CliResult flag = RunCrispForTest({"info", "--no-such-flag"});
  EXPECT_EQ(flag.code, kExitUsage);
  EXPECT_THAT(flag.err, HasSubstr("--no-such-flag"));
  EXPECT_THAT(flag.err, HasSubstr("Usage: crisp info"));
  EXPECT_THAT(flag.err, HasSubstr("Run 'crisp info --help'"));
}

TEST(CliTest, BadOptionValuesAreUsageErrors) {
  CliResult output = RunCrispForTest({"info", "-o", "yaml"});
  EXPECT_EQ(output.code, kExitUsage);
  EXPECT_THAT(output.err, HasSubstr("yaml"));

  CliResult timeout = RunCrispForTest({"--timeout", "soon", "info", "-e", "/tmp/x.sock"});
  EXPECT_EQ(timeout.code, kExitUsage);
  EXPECT_THAT(timeout.err, HasSubstr("--timeout: \"soon\" is not a positive duration"));

  CliResult zero = RunCrispForTest({"--timeout", "0s", "info", "-e", "/tmp/x.sock"});
  EXPECT_EQ(zero.code, kExitUsage);
}

TEST(CliTest, BadEndpointIsOneLineAndExitsTwo) {
  CliResult result = RunCrispForTest({"info", "-e", "tcp://127.0.0.1:9"});
  EXPECT_EQ(result.code, kExitUsage);
  EXPECT_EQ(Lines(result.err), 1) << result.err;
  EXPECT_THAT(result.err, HasSubstr("scheme \"tcp\" is not supported"));
  EXPECT_THAT(result.out, IsEmpty());
}

TEST(CliTest, UnreachableEndpointNamesEndpointAndReasonInOneLine) {
  CliResult result = RunCrispForTest({"info", "-e", "unix:///nonexistent/dir/cri.sock"});
  EXPECT_EQ(result.code, kExitUsage);
  EXPECT_EQ(Lines(result.err), 1) << result.err;
  EXPECT_THAT(result.err, HasSubstr("endpoint unix:///nonexistent/dir/cri.sock"));
  EXPECT_THAT(result.err, HasSubstr("no such socket"));
  EXPECT_THAT(result.err, EndsWith("\n"));
}

TEST(CliTest, ReferenceEndpointWithoutCrispdSaysWhy) {
  // The default endpoint is the reference runtime; with no crispd to be
  // found it is one clear line, not a crash or a hang.
  setenv("CRISP_CRISPD", "/nonexistent/crispd", 1);
  CliResult result = RunCrispForTest({"info"});
  unsetenv("CRISP_CRISPD");
  EXPECT_EQ(result.code, kExitUsage);
  EXPECT_THAT(result.err, HasSubstr("endpoint reference: CRISP_CRISPD=/nonexistent/crispd is not executable"));
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1);
}

TEST(CliTest, VersionNamesTheCriApi) {
  CliResult text = RunCrispForTest({"version"});
  EXPECT_EQ(text.code, kExitOk);
  EXPECT_THAT(text.out, StartsWith("crisp "));
  EXPECT_THAT(text.out, HasSubstr("runtime.v1 (cri-api v0.36.0, Kubernetes 1.36)"));

  CliResult json = RunCrispForTest({"version", "-o", "json"});
  EXPECT_EQ(json.code, kExitOk);
  auto parsed = nlohmann::json::parse(json.out);
  EXPECT_EQ(parsed["cri_api"]["package"], "runtime.v1");
}

}  // namespace
}  // namespace crisp::cli

namespace crisp::cli {
namespace {

std::string WriteTemp(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + "/crisp-diff-" + std::to_string(getpid()) + "-" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(CliDiffTest, RegressionExitsOneAndBrokenInputExitsTwoWithTheLine) {
  std::string old_run = WriteTemp("old.json", R"({"schema": "crisp.results/v1", "scenarios": [
    {"id": "a.b", "verdict": "pass", "steps": []}]})");
  std::string new_run = WriteTemp("new.json", R"({"schema": "crisp.results/v1", "scenarios": [
    {"id": "a.b", "verdict": "fail", "reason": "step 1 (Version): boom", "steps": []}]})");
  CliResult regression = RunCrispForTest({"diff", old_run, new_run});
  EXPECT_EQ(regression.code, kExitFailures);
  EXPECT_THAT(regression.out, HasSubstr("regressions (1):\n  a.b  pass -> fail  (step 1 (Version): boom)"));

  CliResult same = RunCrispForTest({"diff", old_run, old_run, "-o", "json"});
  EXPECT_EQ(same.code, kExitOk);
  EXPECT_EQ(nlohmann::json::parse(same.out)["regressions"].size(), 0u);

  std::string broken = WriteTemp("broken.json", "{\n  \"schema\": \n");
  CliResult bad = RunCrispForTest({"diff", broken, new_run});
  EXPECT_EQ(bad.code, kExitUsage);
  EXPECT_THAT(bad.err, HasSubstr(broken + ":3: not valid JSON"));

  std::string wrong_type = WriteTemp("wrong.json", R"({"schema": "crisp.results/v1", "scenarios": [{"id": "a.b", "verdict": 5}]})");
  CliResult typed = RunCrispForTest({"diff", wrong_type, new_run});
  EXPECT_EQ(typed.code, kExitUsage);
  EXPECT_THAT(typed.err, HasSubstr("wrong type"));
}

TEST(CliTest, TheEndpointComesFromCrispEndpointWhenNoFlagGivesIt) {
  // How crisp in a pod finds the node's socket without a flag.
  setenv("CRISP_ENDPOINT", "/nonexistent/crisp-env-test.sock", 1);
  CliResult info = RunCrispForTest({"info"});
  unsetenv("CRISP_ENDPOINT");
  EXPECT_EQ(info.code, kExitUsage);
  EXPECT_THAT(info.err, HasSubstr("/nonexistent/crisp-env-test.sock"));
  // The flag wins over the environment.
  setenv("CRISP_ENDPOINT", "/nonexistent/crisp-env-test.sock", 1);
  CliResult flag = RunCrispForTest({"info", "-e", "/nonexistent/crisp-flag-test.sock"});
  unsetenv("CRISP_ENDPOINT");
  EXPECT_THAT(flag.err, HasSubstr("crisp-flag-test.sock"));
  EXPECT_THAT(flag.err, Not(HasSubstr("crisp-env-test.sock")));
}

TEST(CliTest, AMistypedNodeNamespaceListIsAUsageError) {
  // Before any runtime is reached: a typo would otherwise make every host
  // step n.a.
  setenv("CRISP_NODE_NAMESPACES", "mnt,nett", 1);
  CliResult run = RunCrispForTest({"run", "-e", "/nonexistent/crisp-node-test.sock", "--suite",
                                   CRISP_SOURCE_DIR "/suites/seed"});
  unsetenv("CRISP_NODE_NAMESPACES");
  EXPECT_EQ(run.code, kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("unknown namespace \"nett\""));
}

TEST(CliTest, ShardAndMergeRefuseBadInput) {
  CliResult shard = RunCrispForTest({"list", "--suite", CRISP_SOURCE_DIR "/suites/seed", "--shard", "3/2"});
  EXPECT_EQ(shard.code, kExitUsage);
  EXPECT_THAT(shard.err, HasSubstr("--shard: 3/2"));
  CliResult merge = RunCrispForTest({"merge", "/nonexistent/results.json", "--report-dir", "/tmp/crisp-merge-unused"});
  EXPECT_EQ(merge.code, kExitUsage);
  EXPECT_THAT(merge.err, HasSubstr("cannot read /nonexistent/results.json"));
}

}  // namespace
}  // namespace crisp::cli
