// `crisp run`, `list` and `validate` against an in-process fake runtime:
// verdicts, exit codes and the reports.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "fake_runtime.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "harness/cli/app.h"
#include "harness/cli/cli_testing.h"
#include "nlohmann/json.hpp"

namespace crisp {
namespace {

using ::testing::HasSubstr;
using cli::CliResult;
using cli::RunCrispForTest;
using testing::FakeRuntime;
using testing::HealthyRuntime;

class RunIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/crisp-run-" + std::to_string(getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::create_directories(dir_ + "/fixtures/testdata");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  std::string Read(const std::string& name) {
    std::ifstream in(dir_ + "/" + name);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }

  std::string dir_;
};

constexpr char kSuite[] = R"(suite: fake
scenarios:
  - id: fake.version-passes
    title: Version names the fake
    critest: [runtime.version]
    steps:
      - call: Version
        expect:
          that:
            runtime_name: fakecri
            runtime_api_version: v1
  - id: fake.version-fails
    title: Version is expected to name another runtime
    steps:
      - call: Version
        expect:
          that:
            runtime_name: containerd
  - id: fake.unimplemented-fails
    title: ListContainers is not implemented by the fake
    steps:
      - call: Status
      - call: ListContainers
  - id: fake.error-expected
    title: An error code is expected and comes
    steps:
      - call: ListContainers
        expect: {code: Unimplemented}
)";

TEST_F(RunIntegrationTest, VerdictsExitCodeAndReports) {
  FakeRuntime runtime(HealthyRuntime());
  std::string suite = Write("fake.yaml", kSuite);
  CliResult result = RunCrispForTest({"run", "-e", runtime.endpoint(), "--suite", suite,
                                      "--report-dir", dir_ + "/out", "--run-id", "itest"});
  EXPECT_EQ(result.code, cli::kExitFailures) << result.out << result.err;
  EXPECT_THAT(result.out, HasSubstr("PASS   fake.version-passes"));
  EXPECT_THAT(result.out, HasSubstr("FAIL   fake.version-fails"));
  EXPECT_THAT(result.out, HasSubstr(
      "step 1 (Version): runtime_name: expected equals \"containerd\", got \"fakecri\""));
  EXPECT_THAT(result.out, HasSubstr(
      "step 2 (ListContainers): expected code OK, got Unimplemented"));
  EXPECT_THAT(result.out, HasSubstr("PASS   fake.error-expected"));

  nlohmann::json results = nlohmann::json::parse(Read("out/results.json"));
  EXPECT_EQ(results["schema"], "crisp.results/v1");
  EXPECT_EQ(results["run_id"], "itest");
  EXPECT_EQ(results["summary"]["pass"], 2);
  EXPECT_EQ(results["summary"]["fail"], 2);
  EXPECT_EQ(results["runtime"]["runtime_name"], "fakecri");
  const auto& failed = results["scenarios"][2];
  EXPECT_EQ(failed["verdict"], "fail");
  EXPECT_EQ(failed["steps"].size(), 2u);
  EXPECT_EQ(failed["steps"][1]["observations"][0]["code_name"], "Unimplemented");

  std::string junit = Read("out/junit.xml");
  EXPECT_THAT(junit, HasSubstr("<testsuite name=\"fake\" tests=\"4\" failures=\"2\" errors=\"0\" skipped=\"0\""));
  EXPECT_THAT(junit, HasSubstr("<property name=\"runtime\" value=\"fakecri 1.2.3\"/>"));
  EXPECT_THAT(junit, HasSubstr("<failure type=\"fail\" message=\"step 1 (Version): runtime_name: expected equals &quot;containerd&quot;"));
  EXPECT_THAT(junit, HasSubstr("<system-out>step 1 Version: fail"));
}

TEST_F(RunIntegrationTest, AllPassingExitsZeroAndFiltersSelect) {
  FakeRuntime runtime(HealthyRuntime());
  std::string suite = Write("fake.yaml", kSuite);
  CliResult result = RunCrispForTest({"run", "-e", runtime.endpoint(), "--suite", suite,
                                      "--focus", "passes|error-expected", "-j", "2"});
  EXPECT_EQ(result.code, cli::kExitOk) << result.out << result.err;
  EXPECT_THAT(result.out, HasSubstr("running 2 scenario(s)"));

  CliResult list = RunCrispForTest({"list", "--suite", suite, "--skip", "fails"});
  EXPECT_EQ(list.code, cli::kExitOk);
  EXPECT_THAT(list.out, HasSubstr("fake.version-passes"));
  EXPECT_THAT(list.out, ::testing::Not(HasSubstr("fake.version-fails")));
  EXPECT_THAT(list.out, HasSubstr("2 scenario(s)"));

  CliResult critest = RunCrispForTest({"list", "--suite", suite, "--critest-key", "runtime.*"});
  EXPECT_EQ(critest.code, cli::kExitOk);
  EXPECT_THAT(critest.out, HasSubstr("fake.version-passes"));
  EXPECT_THAT(critest.out, HasSubstr("1 scenario(s)"));

  CliResult none = RunCrispForTest({"run", "-e", runtime.endpoint(), "--suite", suite, "--tag", "nope"});
  EXPECT_EQ(none.code, cli::kExitUsage);
  EXPECT_THAT(none.err, HasSubstr("no scenario matches"));
}

TEST_F(RunIntegrationTest, BrokenSuiteIsReportedWithItsLineAndNothingRuns) {
  FakeRuntime runtime(HealthyRuntime());
  std::string suite = Write("broken.yaml", "scenarios:\n  - id: a.b\n    title: t\n    steps:\n      - call: Versoin\n");
  CliResult validate = RunCrispForTest({"validate", suite});
  EXPECT_EQ(validate.code, cli::kExitUsage);
  EXPECT_THAT(validate.err, HasSubstr(suite + ":5:15: no CRI v1 RPC named \"Versoin\""));

  CliResult run = RunCrispForTest({"run", "-e", runtime.endpoint(), "--suite", suite});
  EXPECT_EQ(run.code, cli::kExitUsage);
  EXPECT_THAT(run.err, HasSubstr("nothing was run"));

  std::string good = Write("good.yaml", kSuite);
  CliResult ok = RunCrispForTest({"validate", good});
  EXPECT_EQ(ok.code, cli::kExitOk);
  EXPECT_THAT(ok.out, HasSubstr("ok: 1 suite file(s), 4 scenario(s)"));
}

// n.a. from requires: and from an allowed UNIMPLEMENTED, known from a
// baseline: none of them fails the run; a stale baseline entry is named.
TEST_F(RunIntegrationTest, NotApplicableAndKnownDoNotFailTheRun) {
  testing::FakeRuntimeConfig config = HealthyRuntime();
  config.runtime_config.reset();  // RuntimeConfig answers Unimplemented, as before cri-api v0.28
  FakeRuntime runtime(std::move(config));
  std::string suite = Write("fake.yaml", R"(suite: fake
scenarios:
  - id: fake.needs-runtime-config
    title: Needs RuntimeConfig, which the fake lacks
    requires: [runtime-config]
    steps:
      - call: RuntimeConfig
  - id: fake.optional-rpc
    title: ListContainers may be left out
    allow_unimplemented: [ListContainers]
    steps:
      - call: Version
      - call: ListContainers
  - id: fake.version-fails
    title: Version is expected to name another runtime
    steps:
      - call: Version
        expect:
          that:
            runtime_name: containerd
  - id: fake.version-passes
    title: Version names the fake
    steps:
      - call: Version
)");
  std::string baseline = Write("baseline.yaml", R"(known_failures:
  - scenario: fake.version-fails
    runtime: fakecri
    versions: ">=1.2 <2"
    reason: the fake is not containerd
    link: https://example.org/fake/1
  - scenario: fake.version-passes
    runtime: fakecri
    reason: was broken once
)");
  CliResult result = RunCrispForTest({"run", "-e", runtime.endpoint(), "--suite", suite, "--baseline", baseline,
                                      "--report-dir", dir_ + "/out"});
  EXPECT_EQ(result.code, cli::kExitOk) << result.out << result.err;
  EXPECT_THAT(result.out, HasSubstr("N/A    fake.needs-runtime-config"));
  EXPECT_THAT(result.out, HasSubstr("requires runtime-config: RuntimeConfig did not answer (Unimplemented"));
  EXPECT_THAT(result.out, HasSubstr("N/A    fake.optional-rpc"));
  EXPECT_THAT(result.out, HasSubstr("step 2 (ListContainers): the runtime does not implement ListContainers"));
  EXPECT_THAT(result.out, HasSubstr("fixed: fake.version-passes passes; remove it from the baseline (was broken once)"));

  nlohmann::json results = nlohmann::json::parse(Read("out/results.json"));
  EXPECT_EQ(results["summary"]["na"], 2);
  EXPECT_EQ(results["summary"]["known"], 1);
  EXPECT_EQ(results["summary"]["fixed"], 1);
  EXPECT_EQ(results["scenarios"][2]["verdict"], "known");
  EXPECT_EQ(results["scenarios"][2]["baseline"]["actual"], "fail");
  EXPECT_EQ(results["capabilities"]["met"]["runtime-config"], false);
  std::string junit = Read("out/junit.xml");
  EXPECT_THAT(junit, HasSubstr("failures=\"0\" errors=\"0\" skipped=\"3\""));
  EXPECT_THAT(junit, HasSubstr("<skipped message=\"known failure (baseline): the fake is not containerd https://example.org/fake/1;"));

  // Without the baseline, the failure counts again.
  CliResult plain = RunCrispForTest({"run", "-e", runtime.endpoint(), "--suite", suite});
  EXPECT_EQ(plain.code, cli::kExitFailures);

  std::string broken = Write("broken.yaml", "known_failures:\n  - scenario: x.y\n");
  CliResult bad = RunCrispForTest({"run", "-e", runtime.endpoint(), "--suite", suite, "--baseline", broken});
  EXPECT_EQ(bad.code, cli::kExitUsage);
  EXPECT_THAT(bad.err, HasSubstr(broken + ":2:5: an entry needs runtime:"));
}

// any_of: where the CRI allows several answers, any one passes the step;
// when none holds, each alternative says why, and errors stay errors.
TEST_F(RunIntegrationTest, AnyOfAcceptsEachAllowedAnswerAndExplainsWhenNoneHolds) {
  FakeRuntime runtime(HealthyRuntime());
  std::string suite = Write("fake.yaml", R"(suite: fake
scenarios:
  - id: fake.either-code
    title: ListContainers may fail or answer, and later steps know which
    steps:
      - call: ListContainers
        save: listed
        expect:
          any_of:
            - {code: OK}
            - {code: Unimplemented}
      - host: {write_file: {content: "${listed.code_name} ${listed.ok}"}}
        save: file
      - host: {stat: {path: "${file.path}"}}
        expect: {that: {content: "Unimplemented false"}}
  - id: fake.either-answer
    title: Version names one of two runtimes
    steps:
      - call: Version
        expect:
          any_of:
            - {code: NotFound}
            - {that: {runtime_name: fakecri}}
  - id: fake.neither
    title: Version is neither
    steps:
      - call: Version
        expect:
          any_of:
            - {code: NotFound}
            - {that: {runtime_name: containerd}}
)");
  CliResult result = RunCrispForTest({"run", "-e", runtime.endpoint(), "--suite", suite,
                                      "--report-dir", dir_ + "/out"});
  EXPECT_EQ(result.code, cli::kExitFailures) << result.out << result.err;
  EXPECT_THAT(result.out, HasSubstr("PASS   fake.either-code"));
  EXPECT_THAT(result.out, HasSubstr("PASS   fake.either-answer"));
  EXPECT_THAT(result.out, HasSubstr("FAIL   fake.neither"));
  EXPECT_THAT(result.out, HasSubstr(
      "step 1 (Version): none of the 2 allowed answers: (1) expected code NotFound, got OK; "
      "(2) runtime_name: expected equals \"containerd\", got \"fakecri\""));
  nlohmann::json results = nlohmann::json::parse(Read("out/results.json"));
  EXPECT_EQ(results["summary"]["pass"], 2);
  EXPECT_EQ(results["scenarios"][2]["steps"][0]["observations"][0]["code_name"], "OK");

  std::string broken = Write("broken.yaml", R"(scenarios:
  - id: a.b
    title: t
    steps:
      - call: Version
        expect: {code: OK, any_of: [{code: OK}, {code: NotFound}]}
      - call: Version
        expect: {any_of: [{code: OK}]}
)");
  CliResult validate = RunCrispForTest({"validate", broken});
  EXPECT_EQ(validate.code, cli::kExitUsage);
  EXPECT_THAT(validate.err, HasSubstr("put code: and that: in each alternative"));
  EXPECT_THAT(validate.err, HasSubstr("any_of: must be a list of two or more alternatives"));
}

constexpr char kCleanupSuite[] = R"(suite: cleanup
scenarios:
  - id: cleanup.container-in-a-pod
    title: A pod and a container, both left for cleanup
    steps:
      - call: RunPodSandbox
        request: {config: {metadata: {name: p, uid: u, namespace: n}}}
        save: pod
      - call: CreateContainer
        request:
          pod_sandbox_id: "${pod.pod_sandbox_id}"
          config: {metadata: {name: c}, image: {image: busybox}}
)";

TEST_F(RunIntegrationTest, AnErrorForSomethingAlreadyGoneIsAFindingNotAnError) {
  testing::FakeRuntimeConfig config = HealthyRuntime();
  config.unknown_on_missing = true;  // removing the sandbox removed the container: its own removal answers Unknown
  FakeRuntime runtime(std::move(config));
  std::string suite = Write("cleanup.yaml", kCleanupSuite);
  CliResult result = RunCrispForTest({"run", "-e", runtime.endpoint(), "--suite", suite, "--report-dir", dir_ + "/out"});
  EXPECT_EQ(result.code, cli::kExitOk) << result.out << result.err;
  nlohmann::json scenario = nlohmann::json::parse(Read("out/results.json"))["scenarios"][0];
  EXPECT_EQ(scenario["verdict"], "pass");
  EXPECT_EQ(scenario["findings"],
            nlohmann::json::array({"RemoveContainer of a container already gone answered Unknown, not OK or NotFound"}));
  EXPECT_THAT(scenario["cleanup"].dump(), HasSubstr("ContainerStatus answers NotFound: gone"));
  EXPECT_TRUE(runtime.containers().empty());
  EXPECT_TRUE(runtime.sandboxes().empty());
}

TEST_F(RunIntegrationTest, ARemovalThatFailsWhileTheObjectRemainsIsStillAnError) {
  testing::FakeRuntimeConfig config = HealthyRuntime();
  config.container_removal_fails = true;
  FakeRuntime runtime(std::move(config));
  std::string suite = Write("cleanup.yaml", kCleanupSuite);
  CliResult result = RunCrispForTest({"run", "-e", runtime.endpoint(), "--suite", suite, "--report-dir", dir_ + "/out"});
  EXPECT_EQ(result.code, cli::kExitFailures) << result.out << result.err;
  nlohmann::json scenario = nlohmann::json::parse(Read("out/results.json"))["scenarios"][0];
  EXPECT_EQ(scenario["verdict"], "error");
  EXPECT_THAT(scenario["reason"].get<std::string>(), HasSubstr("cleanup failed: container fakectr"));
  EXPECT_THAT(scenario["reason"].get<std::string>(), HasSubstr("RemoveContainer: Unknown: removal failed"));
  EXPECT_TRUE(scenario["findings"].empty());
}

TEST_F(RunIntegrationTest, AStepWhoseWhenIsFalseIsSkippedAndSaysSo) {
  testing::FakeRuntimeConfig config = HealthyRuntime();
  config.unknown_on_missing = true;
  FakeRuntime runtime(std::move(config));
  std::string suite = Write("when.yaml", R"(suite: when
scenarios:
  - id: when.skips
    title: A refused removal, then a step only for the other answer
    steps:
      - call: RemoveContainer
        request: {container_id: nothing-here}
        save: removed
        expect:
          any_of:
            - {code: OK}
            - {code: error}
      - call: Version
        name: only when removed
        when: "${removed.ok}"
        save: version
        expect: {that: {runtime_name: not-this-one}}
      - call: Version
        name: only when that ran
        when: "${version.ok}"
      - call: Version
        name: always
        when: "true"
)");
  CliResult result = RunCrispForTest({"run", "-e", runtime.endpoint(), "--suite", suite, "--report-dir", dir_ + "/out"});
  EXPECT_EQ(result.code, cli::kExitOk) << result.out << result.err;
  nlohmann::json steps = nlohmann::json::parse(Read("out/results.json"))["scenarios"][0]["steps"];
  ASSERT_EQ(steps.size(), 4u);
  EXPECT_EQ(steps[1]["verdict"], "pass");
  EXPECT_EQ(steps[1]["message"], "skipped: when: ${removed.ok} is false");
  // A skipped step saves ok: false, so what depends on it is skipped too.
  EXPECT_EQ(steps[2]["message"], "skipped: when: ${version.ok} is false");
  EXPECT_EQ(steps[3]["observations"][0]["code_name"], "OK");

  // when: must come out true or false.
  std::string bad = Write("bad.yaml", R"(suite: bad
scenarios:
  - id: bad.when
    title: when is not a condition
    steps:
      - call: Version
        when: sometimes
)");
  CliResult refused = RunCrispForTest({"validate", bad});
  EXPECT_EQ(refused.code, cli::kExitUsage);
  EXPECT_THAT(refused.out + refused.err, HasSubstr("when: takes a ${...} reference"));
}

TEST_F(RunIntegrationTest, ReportRendersAgainFromResultsJson) {
  FakeRuntime runtime(HealthyRuntime());
  std::string suite = Write("fake.yaml", kSuite);
  RunCrispForTest({"run", "-e", runtime.endpoint(), "--suite", suite, "--report-dir", dir_ + "/out", "--run-id", "r1"});
  CliResult again = RunCrispForTest({"report", dir_ + "/out/results.json", "--report-dir", dir_ + "/again"});
  ASSERT_EQ(again.code, cli::kExitOk) << again.out << again.err;
  EXPECT_EQ(nlohmann::json::parse(Read("again/results.json")), nlohmann::json::parse(Read("out/results.json")));
  // results.json keeps milliseconds: JUnit's times may differ in the last
  // digit, not its verdicts.
  EXPECT_THAT(Read("again/junit.xml"), HasSubstr("<testsuite name=\"fake\" tests=\"4\" failures=\"2\" errors=\"0\""));
  EXPECT_THAT(Read("again/junit.xml"), HasSubstr("step 1 (Version): runtime_name: expected equals &quot;containerd&quot;"));
  EXPECT_THAT(Read("again/report.html"), HasSubstr("fake.version-passes"));

  // Two runs make a matrix.
  RunCrispForTest({"run", "-e", "other=" + runtime.endpoint(), "--suite", suite, "--report-dir", dir_ + "/other"});
  CliResult matrix = RunCrispForTest(
      {"report", dir_ + "/out/results.json", dir_ + "/other/results.json", "--report-dir", dir_ + "/matrix"});
  ASSERT_EQ(matrix.code, cli::kExitOk) << matrix.out << matrix.err;
  nlohmann::json document = nlohmann::json::parse(Read("matrix/results.json"));
  EXPECT_EQ(document["schema"], "crisp.matrix/v1");
  EXPECT_EQ(document["runs"].size(), 2u);
  EXPECT_THAT(Read("matrix/summary.md"), HasSubstr("| scenario |"));

  // What is not a results.json says so, and writes nothing.
  Write("broken.json", "{\"schema\": \"crisp.results/v1\", \"run_id\": 5}");
  CliResult broken = RunCrispForTest({"report", dir_ + "/broken.json", "--report-dir", dir_ + "/none"});
  EXPECT_EQ(broken.code, cli::kExitUsage);
  EXPECT_THAT(broken.err, HasSubstr("broken.json: results.json: .run_id is not a string"));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/none"));
}

TEST_F(RunIntegrationTest, CrispYamlFillsInWhatTheCommandLineLeavesOutAndFlagsWin) {
  testing::FakeRuntimeConfig slow = HealthyRuntime();
  slow.version_delay = absl::Milliseconds(600);
  FakeRuntime runtime(std::move(slow));
  Write("fake.yaml", kSuite);
  Write("only-version.yaml", R"(suite: one
scenarios:
  - id: one.version
    title: Version names the fake
    steps:
      - call: Version
        expect: {that: {runtime_name: fakecri}}
)");
  // Relative paths are the file's: the suite is found from any directory.
  std::string config = Write("crisp.yaml", "timeout: 300ms\n"
                                           "endpoints:\n  fake: " + runtime.endpoint() + "\n"
                                           "matrix: {endpoints: [fake]}\n"
                                           "suites: [fake.yaml]\n");
  // The file's timeout (300ms) is too short for this runtime's Version...
  CliResult timed_out = RunCrispForTest({"--config", config, "run", "-e", "fake"});
  EXPECT_EQ(timed_out.code, cli::kExitUsage);
  EXPECT_THAT(timed_out.err, HasSubstr("within 300ms"));
  // ... a flag wins; the named endpoint and the file's suite are used.
  CliResult run = RunCrispForTest({"--config", config, "--timeout", "5s", "run", "-e", "fake", "--report-dir", dir_ + "/out"});
  EXPECT_EQ(run.code, cli::kExitFailures) << run.out << run.err;  // kSuite has failing scenarios by design
  nlohmann::json results = nlohmann::json::parse(Read("out/results.json"));
  EXPECT_EQ(results["endpoint"]["name"], "fake");
  EXPECT_EQ(results["summary"]["total"], 4);
  // --suite wins over the file's suites.
  CliResult one = RunCrispForTest({"--config", config, "--timeout", "5s", "run", "-e", "fake", "--suite",
                                   dir_ + "/only-version.yaml", "--report-dir", dir_ + "/one"});
  EXPECT_EQ(one.code, cli::kExitOk) << one.out << one.err;
  EXPECT_EQ(nlohmann::json::parse(Read("one/results.json"))["summary"]["total"], 1);
  // matrix without -e compares the file's runtimes.
  CliResult matrix = RunCrispForTest({"--config", config, "--timeout", "5s", "matrix", "--suite",
                                      dir_ + "/only-version.yaml", "--report-dir", dir_ + "/matrix"});
  EXPECT_EQ(matrix.code, cli::kExitOk) << matrix.out << matrix.err;
  EXPECT_EQ(nlohmann::json::parse(Read("matrix/results.json"))["runs"][0]["endpoint"]["name"], "fake");
}

TEST_F(RunIntegrationTest, AMalformedCrispYamlIsAnErrorWithItsPlace) {
  std::string broken = Write("broken.yaml", "endpoints:\n  fake: [not, text]\n");
  CliResult result = RunCrispForTest({"--config", broken, "list"});
  EXPECT_EQ(result.code, cli::kExitUsage);
  EXPECT_THAT(result.err, HasSubstr("broken.yaml:2:9: endpoints is text"));
  std::string unknown = Write("unknown.yaml", "timeout: 1s\nsuite: [x]\n");
  result = RunCrispForTest({"--config", unknown, "list"});
  EXPECT_EQ(result.code, cli::kExitUsage);
  EXPECT_THAT(result.err, HasSubstr("unknown.yaml:2:1: unknown key \"suite\""));
  std::string syntax = Write("syntax.yaml", "timeout: [1s\n");
  result = RunCrispForTest({"--config", syntax, "list"});
  EXPECT_EQ(result.code, cli::kExitUsage);
  EXPECT_THAT(result.err, HasSubstr("syntax.yaml:"));
  result = RunCrispForTest({"--config", dir_ + "/missing.yaml", "list"});
  EXPECT_EQ(result.code, cli::kExitUsage);
  EXPECT_THAT(result.err, HasSubstr("missing.yaml"));
}


constexpr char kSharedSuite[] = R"(suite: shared
shared:
  pod:
    call: RunPodSandbox
    request: {config: {metadata: {name: p, uid: u, namespace: n}}}
scenarios:
  - id: shared.one
    title: A container in the shared pod
    uses: [pod]
    steps:
      - call: CreateContainer
        request:
          pod_sandbox_id: "${pod.pod_sandbox_id}"
          config: {metadata: {name: c}, image: {image: busybox}}
  - id: shared.two
    title: Another container in the shared pod
    uses: [pod]
    steps:
      - call: CreateContainer
        request:
          pod_sandbox_id: "${pod.pod_sandbox_id}"
          config: {metadata: {name: c}, image: {image: busybox}}
  - id: shared.breaks-it
    title: Stops the shared pod
    uses: [pod]
    steps:
      - call: StopPodSandbox
        request: {pod_sandbox_id: "${pod.pod_sandbox_id}"}
  - id: shared.three
    title: A container in a pod that is READY again
    uses: [pod]
    steps:
      - call: CreateContainer
        request:
          pod_sandbox_id: "${pod.pod_sandbox_id}"
          config: {metadata: {name: c}, image: {image: busybox}}
)";

TEST_F(RunIntegrationTest, ASharedPodServesScenariosInTurnAndIsMadeAgainWhenBroken) {
  testing::FakeRuntimeConfig config = HealthyRuntime();
  config.lists_containers = true;
  FakeRuntime runtime(std::move(config));
  std::string suite = Write("shared.yaml", kSharedSuite);
  CliResult result = RunCrispForTest({"run", "-e", runtime.endpoint(), "--suite", suite, "--report-dir", dir_ + "/out"});
  EXPECT_EQ(result.code, cli::kExitOk) << result.out << result.err;
  EXPECT_EQ(runtime.pods_run(), 2) << "one pod for the first three, one more after the third stopped it";
  nlohmann::json results = nlohmann::json::parse(Read("out/results.json"));
  std::vector<std::string> messages;
  for (const nlohmann::json& scenario : results["scenarios"]) {
    EXPECT_EQ(scenario["verdict"], "pass") << scenario.dump();
    const nlohmann::json& shared = scenario["steps"][0];
    EXPECT_EQ(shared["kind"], "shared");
    EXPECT_EQ(shared["method"], "RunPodSandbox");
    // Made or reused, the step shows the call that made the pod.
    EXPECT_EQ(shared["observations"][0]["code_name"], "OK");
    messages.push_back(shared["message"]);
  }
  ASSERT_EQ(messages.size(), 4u);
  EXPECT_EQ(messages[0], "");
  EXPECT_THAT(messages[1], HasSubstr("reused: made by shared.one"));
  EXPECT_THAT(messages[2], HasSubstr("reused: made by shared.one"));
  EXPECT_THAT(messages[3], HasSubstr("was not reused: the pod is not READY"));
  EXPECT_EQ(results["scenarios"][0]["work"]["RunPodSandbox"], 1);
  EXPECT_FALSE(results["scenarios"][1]["work"].contains("RunPodSandbox"));
  EXPECT_EQ(results["summary"]["work"]["RunPodSandbox"], 2);
  EXPECT_EQ(results["summary"]["work"]["CreateContainer"], 3);
  EXPECT_THAT(result.out, HasSubstr("runtime work: 2 pods, 3 containers, 0 pulls, 0 ExecSync, 0 streams"));
  EXPECT_TRUE(runtime.sandboxes().empty()) << "the shared pods are removed when the run ends";
  EXPECT_TRUE(runtime.containers().empty());
  EXPECT_EQ(results["sweep"]["removed"], 0) << "removed by the pool, not found as leaks";
}

TEST_F(RunIntegrationTest, ASharedPodIsMadeAsTheKubeletWouldEvenForAScenarioWithoutKubeletFidelity) {
  testing::FakeRuntimeConfig config = HealthyRuntime();
  config.lists_containers = true;
  FakeRuntime runtime(std::move(config));
  // The first user of the shared pod is a scenario without kubelet fidelity.
  std::string text = kSharedSuite;
  const std::string title = "    title: A container in the shared pod\n";
  text.insert(text.find(title) + title.size(), "    kubelet_fidelity: false\n");
  std::string suite = Write("shared.yaml", text);
  // Pooled (run) or made for the scenario alone, the same.
  for (const char* scope : {"run", "scenario"}) {
    SCOPED_TRACE(scope);
    const std::string out = dir_ + "/out-" + scope;
    CliResult result = RunCrispForTest(
        {"run", "-e", runtime.endpoint(), "--suite", suite, "--fixture-scope", scope, "--report-dir", out});
    EXPECT_EQ(result.code, cli::kExitOk) << result.out << result.err;
    nlohmann::json results = nlohmann::json::parse(Read(std::string("out-") + scope + "/results.json"));
    const nlohmann::json& first = results["scenarios"][0];
    ASSERT_EQ(first["id"], "shared.one");
    // The shared pod carries the kubelet's labels though its user does not ...
    const nlohmann::json& pod = first["steps"][0]["observations"][0]["request"]["config"];
    EXPECT_EQ(pod["labels"].value("io.kubernetes.pod.name", ""), pod["metadata"]["name"]) << pod.dump();
    // ... and the scenario's own request goes as written.
    const nlohmann::json& own = first["steps"][1]["observations"][0]["request"]["config"];
    EXPECT_FALSE(own.contains("labels") && own["labels"].contains("io.kubernetes.container.name")) << own.dump();
    const nlohmann::json& second = results["scenarios"][1]["steps"][1]["observations"][0]["request"]["config"];
    EXPECT_EQ(second["labels"].value("io.kubernetes.container.name", ""), "c") << second.dump();
  }
}

TEST_F(RunIntegrationTest, ARemovalThatFailsOnceIsTriedAgainAndIsAFindingNotAnError) {
  testing::FakeRuntimeConfig config = HealthyRuntime();
  config.lists_containers = true;
  config.container_removal_fails_once = true;
  FakeRuntime runtime(std::move(config));
  // Containers in a shared pod are removed one by one, not with their pod.
  std::string suite = Write("shared.yaml", kSharedSuite);
  CliResult result = RunCrispForTest({"run", "-e", runtime.endpoint(), "--suite", suite, "--report-dir", dir_ + "/out"});
  EXPECT_EQ(result.code, cli::kExitOk) << result.out << result.err;
  nlohmann::json scenario = nlohmann::json::parse(Read("out/results.json"))["scenarios"][0];
  EXPECT_EQ(scenario["verdict"], "pass");
  ASSERT_EQ(scenario["findings"].size(), 1u) << scenario.dump();
  EXPECT_THAT(scenario["findings"][0].get<std::string>(), HasSubstr("container is still running, to stop first"));
  EXPECT_THAT(scenario["findings"][0].get<std::string>(), HasSubstr("succeeded when tried again"));
  EXPECT_TRUE(runtime.containers().empty());
}

TEST_F(RunIntegrationTest, WithScenarioScopedFixturesEveryScenarioMakesItsOwn) {
  testing::FakeRuntimeConfig config = HealthyRuntime();
  config.lists_containers = true;
  FakeRuntime runtime(std::move(config));
  std::string suite = Write("shared.yaml", kSharedSuite);
  CliResult result = RunCrispForTest({"run", "-e", runtime.endpoint(), "--suite", suite, "--fixture-scope", "scenario",
                                      "--report-dir", dir_ + "/out"});
  EXPECT_EQ(result.code, cli::kExitOk) << result.out << result.err;
  EXPECT_EQ(runtime.pods_run(), 4);
  EXPECT_THAT(result.out, HasSubstr("runtime work: 4 pods, 3 containers"));
  nlohmann::json results = nlohmann::json::parse(Read("out/results.json"));
  EXPECT_EQ(results["scenarios"][1]["steps"][0]["kind"], "call");
  EXPECT_TRUE(runtime.sandboxes().empty());
}

TEST_F(RunIntegrationTest, DurationsOfAnEarlierRunStartTheLongestFirst) {
  FakeRuntime runtime(HealthyRuntime());
  std::string suite = Write("fake.yaml", kSuite);
  Write("durations.json", R"({"scenarios": [{"id": "fake.error-expected", "duration_ms": 900},
                                            {"id": "fake.version-fails", "duration_ms": 100},
                                            {"id": "fake.unimplemented-fails", "duration_ms": 500}]})");
  CliResult result = RunCrispForTest({"run", "-e", runtime.endpoint(), "--suite", suite, "--durations",
                                      dir_ + "/durations.json", "--report-dir", dir_ + "/out"});
  // One at a time: the console says each as it ends, in the order they ran.
  std::vector<std::pair<size_t, std::string>> seen;
  for (const char* id : {"fake.version-passes", "fake.error-expected", "fake.unimplemented-fails", "fake.version-fails"}) {
    seen.emplace_back(result.out.find(std::string(id) + " "), id);
  }
  std::sort(seen.begin(), seen.end());
  std::vector<std::string> order;
  for (const auto& [position, id] : seen) order.push_back(id);
  // Not in the file first (it may be long), then by the time it took.
  EXPECT_THAT(order, ::testing::ElementsAre("fake.version-passes", "fake.error-expected", "fake.unimplemented-fails",
                                            "fake.version-fails"));
  Write("broken.json", "{not json");
  CliResult broken = RunCrispForTest({"run", "-e", runtime.endpoint(), "--suite", suite, "--durations",
                                      dir_ + "/broken.json"});
  EXPECT_EQ(broken.code, cli::kExitUsage);
  EXPECT_THAT(broken.err, HasSubstr("--durations: "));
  EXPECT_THAT(broken.err, HasSubstr("is not a results.json"));
}

constexpr char kBackgroundSuite[] = R"(suite: background
shared:
  pod:
    call: RunPodSandbox
    request: {config: {metadata: {name: p, uid: u, namespace: n}}}
scenarios:
  - id: background.awaited
    title: A container created in the background is judged at its await, then used
    uses: [pod]
    steps:
      - call: CreateContainer
        background: true
        request:
          pod_sandbox_id: "${pod.pod_sandbox_id}"
          config: {metadata: {name: c}, image: {image: busybox}}
        save: ctr
      - call: Version
      - await: ctr
        expect: {that: {container_id: {matches: ".+"}}}
      - call: ContainerStatus
        request: {container_id: "${ctr.container_id}"}
  - id: background.never-awaited
    title: A scenario that stops before its await still removes what the call made
    uses: [pod]
    steps:
      - call: CreateContainer
        background: true
        request:
          pod_sandbox_id: "${pod.pod_sandbox_id}"
          config: {metadata: {name: d}, image: {image: busybox}}
        save: ctr
      - call: Version
        expect: {code: NotFound}
      - await: ctr
)";

TEST_F(RunIntegrationTest, ABackgroundCallIsJudgedAtItsAwaitAndCleanedUpEvenIfNeverAwaited) {
  testing::FakeRuntimeConfig config = HealthyRuntime();
  config.lists_containers = true;
  FakeRuntime runtime(std::move(config));
  std::string suite = Write("background.yaml", kBackgroundSuite);
  CliResult result = RunCrispForTest({"run", "-e", runtime.endpoint(), "--suite", suite, "--report-dir", dir_ + "/out"});
  EXPECT_EQ(result.code, cli::kExitFailures) << result.out << result.err;
  nlohmann::json results = nlohmann::json::parse(Read("out/results.json"));
  const nlohmann::json& awaited = results["scenarios"][0];
  EXPECT_EQ(awaited["verdict"], "pass") << awaited.dump();
  EXPECT_EQ(awaited["steps"][1]["observations"][0]["call"], "started");  // after the shared pod's step
  EXPECT_EQ(awaited["steps"][3]["kind"], "await");
  EXPECT_EQ(awaited["steps"][3]["method"], "CreateContainer");
  EXPECT_EQ(awaited["steps"][3]["observations"][0]["code_name"], "OK");
  EXPECT_THAT(awaited["cleanup"].dump(), HasSubstr("removed"));
  const nlohmann::json& stopped = results["scenarios"][1];
  EXPECT_EQ(stopped["verdict"], "fail");
  EXPECT_THAT(stopped["reason"].get<std::string>(), HasSubstr("step 3 (Version)"));
  EXPECT_THAT(stopped["cleanup"].dump(), HasSubstr("container")) << "the call's container was found and removed";
  EXPECT_EQ(results["summary"]["work"]["CreateContainer"], 2);
  EXPECT_TRUE(runtime.containers().empty());
  EXPECT_TRUE(runtime.sandboxes().empty());
}

constexpr char kTwinSuite[] = R"(suite: twin
scenarios:
  - id: twin.same-name
    title: A second create of a name in use answers the first container
    steps:
      - call: RunPodSandbox
        request: {config: {metadata: {name: p, uid: u, namespace: n}}}
        save: pod
      - call: CreateContainer
        request:
          pod_sandbox_id: "${pod.pod_sandbox_id}"
          config: {metadata: {name: twin}, image: {image: busybox}}
        save: first
      - call: CreateContainer
        request:
          pod_sandbox_id: "${pod.pod_sandbox_id}"
          config: {metadata: {name: twin}, image: {image: busybox}}
        expect: {that: {container_id: "${first.container_id}"}}
)";

TEST_F(RunIntegrationTest, AContainerIdAnsweredTwiceIsRemovedOnce) {
  testing::FakeRuntimeConfig config = HealthyRuntime();
  config.create_returns_existing = true;
  FakeRuntime runtime(std::move(config));
  std::string suite = Write("twin.yaml", kTwinSuite);
  CliResult result = RunCrispForTest({"run", "-e", runtime.endpoint(), "--suite", suite, "--report-dir", dir_ + "/out"});
  EXPECT_EQ(result.code, cli::kExitOk) << result.out << result.err;
  nlohmann::json scenario = nlohmann::json::parse(Read("out/results.json"))["scenarios"][0];
  EXPECT_EQ(scenario["verdict"], "pass") << scenario.dump();
  int container_lines = 0;
  for (const nlohmann::json& line : scenario["cleanup"]) {
    if (line.get<std::string>().starts_with("container ")) ++container_lines;
  }
  EXPECT_EQ(container_lines, 1) << scenario["cleanup"].dump();
  EXPECT_TRUE(scenario["findings"].empty());
  EXPECT_TRUE(runtime.containers().empty());
}

}  // namespace
}  // namespace crisp
