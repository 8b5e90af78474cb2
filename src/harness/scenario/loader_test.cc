#include "harness/scenario/loader.h"

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crisp::scenario {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

const std::string kFixtures = std::string(CRISP_SOURCE_DIR) + "/fixtures/testdata";

LoadResult Load(const std::string& text) { return LoadSuiteText(text, "s.yaml", kFixtures); }

std::vector<std::string> Messages(const LoadResult& result) {
  std::vector<std::string> messages;
  for (const Diagnostic& diagnostic : result.diagnostics) messages.push_back(diagnostic.ToString());
  return messages;
}

TEST(LoaderTest, LoadsAScenarioWithFixtureOverridesAndChecks) {
  LoadResult result = Load(R"(suite: seed
scenarios:
  - id: pod.run
    title: A pod runs
    tags: [conformance]
    spec_ref: "Runtimes must ensure the sandbox is in the ready state on success."
    steps:
      - call: RunPodSandbox
        request:
          config: {$fixture: sandbox_config.json, hostname: other}
        save: pod
      - call: PodSandboxStatus
        request: {pod_sandbox_id: "${pod.pod_sandbox_id}"}
        wait: 10s
        expect:
          that:
            status.state: SANDBOX_READY
            status.network.ip: {matches: '^10\.', present: true}
            status.labels: {contains: {app: crisp-seed}}
)");
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(Messages(result));
  ASSERT_THAT(result.suites, SizeIs(1));
  const Scenario& scenario = result.suites[0].scenarios.at(0);
  EXPECT_EQ(scenario.id, "pod.run");
  EXPECT_EQ(scenario.suite, "seed");
  ASSERT_THAT(scenario.steps, SizeIs(2));
  const nlohmann::json& config = scenario.steps[0].request["config"];
  EXPECT_EQ(config["hostname"], "other");                      // the override
  EXPECT_EQ(config["metadata"]["name"], "crisp-sandbox");       // from the fixture
  EXPECT_EQ(scenario.steps[1].wait->timeout, absl::Seconds(10));
  EXPECT_FALSE(scenario.steps[1].wait->interval.has_value());
  const auto& checks = scenario.steps[1].expect.checks;
  ASSERT_THAT(checks, SizeIs(4));
  EXPECT_EQ(checks[0].op, Check::Op::kEquals);
  EXPECT_EQ(checks[1].op, Check::Op::kMatches);
  EXPECT_EQ(checks[2].op, Check::Op::kPresent);
  EXPECT_EQ(checks[3].op, Check::Op::kContains);
  EXPECT_EQ(checks[0].where.line, 17);
}

TEST(LoaderTest, YamlSyntaxErrorHasLineAndColumn) {
  LoadResult result = Load("scenarios:\n  - id: a.b\n    title: [unclosed\n");
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(Messages(result)[0], HasSubstr("s.yaml:4:1: "));
}

TEST(LoaderTest, UnknownKeysRpcsAndFieldsAreReportedWhereWritten) {
  LoadResult result = Load(R"(scenarios:
  - id: a.b
    title: t
    colour: blue
    steps:
      - call: RunPodSandboxx
      - call: Version
        request: {versoin: v1}
      - call: RunPodSandbox
        request:
          config:
            metadata: {name: x, nmespace: y}
            hostname: 7
)");
  EXPECT_THAT(Messages(result), ::testing::UnorderedElementsAre(
      HasSubstr("s.yaml:4:5: unknown key \"colour\" in a scenario"),
      HasSubstr("s.yaml:6:15: no CRI v1 RPC named \"RunPodSandboxx\""),
      HasSubstr("s.yaml:8:19: unknown field \"versoin\" in runtime.v1.VersionRequest"),
      HasSubstr("s.yaml:12:33: unknown field \"nmespace\" in runtime.v1.PodSandboxMetadata at config.metadata"),
      HasSubstr("s.yaml:13:13: config.hostname must be a string, not a number")));
}

TEST(LoaderTest, FixtureProblemsNameTheFixture) {
  std::string dir = testing::TempDir() + "/crisp-fixtures";
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/broken.json") << "{\n  \"metadata\": {\n    \"name\": \"x\",\n  }\n}\n";
  std::ofstream(dir + "/typo.json") << R"({"metadata": {"nam": "x"}})";
  LoadResult result = LoadSuiteText(R"(scenarios:
  - id: a.b
    title: t
    steps:
      - call: RunPodSandbox
        request: {config: {$fixture: broken.json}}
      - call: RunPodSandbox
        request: {config: {$fixture: missing.json}}
      - call: RunPodSandbox
        request: {config: {$fixture: typo.json}}
)", "s.yaml", dir);
  EXPECT_THAT(Messages(result), ElementsAre(
      HasSubstr("s.yaml:6:18: " + dir + "/broken.json:4:3: not valid JSON"),
      HasSubstr("s.yaml:8:18: fixture " + dir + "/missing.json does not exist"),
      HasSubstr("unknown field \"nam\" in runtime.v1.PodSandboxMetadata at config.metadata")));
}

TEST(LoaderTest, RepeatBuildsLargeValuesAndRefusesWhatItCannot) {
  LoadResult result = Load(R"(scenarios:
  - id: a.b
    title: t
    kubelet_fidelity: false
    steps:
      - call: RunPodSandbox
        request:
          config:
            metadata: {name: x, uid: u, namespace: n}
            labels: {$repeat: {times: 3, key: "k{i}", value: "v{i}"}}
            annotations: {big: {$repeat: {times: 4, text: "ab"}}}
            dns_config: {servers: {$repeat: {times: 2, item: "10.0.0.{i}"}}}
      - call: CreateContainer
        request:
          pod_sandbox_id: x
          config:
            metadata: {name: c}
            envs: {$repeat: {times: 2, item: {key: "K{i}", value: "v{i}"}}}
)");
  ASSERT_THAT(Messages(result), IsEmpty());
  const nlohmann::json& config = result.suites[0].scenarios[0].steps[0].request["config"];
  EXPECT_EQ(config["labels"], nlohmann::json({{"k0", "v0"}, {"k1", "v1"}, {"k2", "v2"}}));
  EXPECT_EQ(config["annotations"]["big"], "abababab");
  EXPECT_EQ(config["dns_config"]["servers"], nlohmann::json({"10.0.0.0", "10.0.0.1"}));
  EXPECT_EQ(result.suites[0].scenarios[0].steps[1].request["config"]["envs"][1],
            nlohmann::json({{"key", "K1"}, {"value", "v1"}}));

  LoadResult bad = Load(R"(scenarios:
  - id: a.b
    title: t
    steps:
      - call: Version
        request: {version: {$repeat: {times: 3}}}
      - call: Version
        request: {version: {$repeat: {times: 100000000, text: "xxxxxxxx"}}}
      - call: Version
        request: {version: {$repeat: {times: 1, text: "x"}, other: 1}}
)");
  EXPECT_THAT(Messages(bad), ElementsAre(HasSubstr("$repeat takes one of text:"), HasSubstr("is more than 16 MiB"),
                                         HasSubstr("$repeat stands alone in its map")));
}

TEST(LoaderTest, ReferencesExpectationsAndIdsAreChecked) {
  LoadResult result = Load(R"(scenarios:
  - id: Bad_Id
    title: t
    steps:
      - call: ContainerStatus
        request: {container_id: "${ctr.container_id}"}
        expect:
          code: NOT_FOUND
          that:
            status.state: {matches: '(', count: many}
      - log: pod
  - id: a.b
    title: t
    requires: [root, gpu]
    steps: []
  - id: a.b
    title: t
    steps:
      - call: Version
)");
  EXPECT_THAT(Messages(result), ElementsAre(
      HasSubstr("s.yaml:2:9: id \"Bad_Id\" must be area.behaviour"),
      HasSubstr("s.yaml:6:18: ${ctr...} refers to nothing: no earlier step saves \"ctr\""),
      HasSubstr("s.yaml:8:17: unknown gRPC code \"NOT_FOUND\""),
      HasSubstr("s.yaml:10:28: matches: bad regular expression \"(\""),
      HasSubstr("s.yaml:10:42: count takes a number"),
      HasSubstr("s.yaml:11:14: log: \"pod\" must name an earlier CreateContainer step's save:"),
      HasSubstr("s.yaml:14:15: unknown requirement \"gpu\""),
      HasSubstr("s.yaml:12:5: scenario a.b needs steps:"),
      HasSubstr("s.yaml:16:5: duplicate id \"a.b\"; first at s.yaml:12:5")));
}

TEST(LoaderTest, AContainsOfAnEmptyListIsRefused) {
  // Every list contains the empty list: the check could never fail.
  LoadResult result = Load(R"(scenarios:
  - id: a.b
    title: t
    steps:
      - call: ListImages
        expect:
          that:
            images: {contains: []}
            images[0].repo_tags: {contains: [a], not_contains: []}
)");
  EXPECT_THAT(Messages(result), ElementsAre(HasSubstr("contains takes a value, or a list with at least one element"),
                                            HasSubstr("not_contains takes a value, or a list with at least one element")));
}

TEST(LoaderTest, HostStepsConcurrencyRequirementsAndCritestKeys) {
  LoadResult good = Load(R"(scenarios:
  - id: container.volume
    title: t
    critest: [container.volume]
    requires: [root, seccomp]
    allow_unimplemented: [ListPodSandboxStats]
    steps:
      - host: {temp_dir: {}}
        save: vol
      - host: {write_file: {path: "${vol.path}/flag", content: hi}}
      - host: {stat: {path: "${vol.path}/flag"}}
        expect: {that: {exists: true, size: {greater_than: "${vol.size}"}}}
      - call: RemoveImage
        request: {image: {image: x}}
        concurrent: 5
)");
  ASSERT_TRUE(good.ok()) << ::testing::PrintToString(Messages(good));
  const Scenario& scenario = good.suites[0].scenarios[0];
  EXPECT_THAT(scenario.critest, ElementsAre("container.volume"));
  EXPECT_THAT(scenario.allow_unimplemented, ElementsAre("ListPodSandboxStats"));
  EXPECT_EQ(scenario.steps[0].kind, Step::Kind::kHost);
  EXPECT_EQ(scenario.steps[0].host_action, "temp_dir");
  EXPECT_EQ(scenario.steps[0].name, "host temp_dir");
  EXPECT_EQ(scenario.steps[1].request["content"], "hi");
  EXPECT_EQ(scenario.steps[3].concurrent, 5);

  LoadResult bad = Load(R"(scenarios:
  - id: a.b
    title: t
    requires: [apparmour]
    allow_unimplemented: [ListPodSandboxStatz]
    steps:
      - host: {mkdir: {}}
      - host: {write_file: {path: /x}}
      - host: {stat: {path: /x, follow: true}}
      - host: {stat: {path: /x}}
        expect: {code: OK}
      - call: Version
        concurrent: 0
      - log: nothing
        concurrent: 2
      - host: {stream: {url: "http://x/exec/1"}}
        wait: 10s
)");
  EXPECT_THAT(Messages(bad), ::testing::IsSupersetOf({
      HasSubstr("s.yaml:4:15: unknown requirement \"apparmour\" (known: root, apparmor, selinux,"),
      HasSubstr("s.yaml:5:26: no CRI v1 RPC named \"ListPodSandboxStatz\""),
      HasSubstr("s.yaml:7:16: unknown host action \"mkdir\" (temp_dir, write_file,"),
      HasSubstr("s.yaml:8:28: write_file needs the argument content"),
      HasSubstr("s.yaml:9:22: stat takes no argument \"follow\" (it takes: path)"),
      HasSubstr("only call steps have a gRPC code to expect"),
      HasSubstr("s.yaml:13:21: concurrent: must be a number from 1 to 64"),
      HasSubstr("concurrent: applies to call steps"),
      HasSubstr("s.yaml:17:15: a stream step uses up what it acts on"),
  }));
}

TEST(WaitTest, PausesDoubleFromShortToAQuarterSecondUnlessAnIntervalIsGiven) {
  Wait backoff;
  EXPECT_EQ(backoff.Pause(1), absl::Milliseconds(10));
  EXPECT_EQ(backoff.Pause(2), absl::Milliseconds(20));
  EXPECT_EQ(backoff.Pause(5), absl::Milliseconds(160));
  EXPECT_EQ(backoff.Pause(6), absl::Milliseconds(250));
  EXPECT_EQ(backoff.Pause(1000), absl::Milliseconds(250));
  Wait fixed{.interval = absl::Milliseconds(500)};
  EXPECT_EQ(fixed.Pause(1), absl::Milliseconds(500));
  EXPECT_EQ(fixed.Pause(9), absl::Milliseconds(500));
}

TEST(LoaderTest, AStreamingCallOpensAStreamThatAnAwaitStepChecks) {
  LoadResult good = Load(R"(scenarios:
  - id: runtime.events
    title: t
    steps:
      - call: GetContainerEvents
        save: events
      - call: Version
      - await: events
        wait: 5s
        expect: {that: {"": {contains: {messages: [{container_event_type: CONTAINER_CREATED_EVENT}]}}}}
)");
  ASSERT_TRUE(good.ok()) << ::testing::PrintToString(Messages(good));
  const Scenario& scenario = good.suites[0].scenarios[0];
  EXPECT_EQ(scenario.steps[0].kind, Step::Kind::kCall);
  EXPECT_TRUE(scenario.steps[0].opens_stream);
  EXPECT_FALSE(scenario.steps[1].opens_stream);
  EXPECT_EQ(scenario.steps[2].kind, Step::Kind::kAwait);
  EXPECT_EQ(scenario.steps[2].await_of, "events");
  EXPECT_EQ(scenario.steps[2].method, "GetContainerEvents");
  EXPECT_EQ(scenario.steps[2].name, "await events");

  LoadResult bad = Load(R"(scenarios:
  - id: a.b
    title: t
    steps:
      - call: GetContainerEvents
      - call: GetContainerEvents
        save: events
        expect: {code: OK}
      - call: Version
        save: version
      - await: version
      - await: nothing
        request: {}
)");
  EXPECT_THAT(Messages(bad), ::testing::IsSupersetOf({
      HasSubstr("s.yaml:5:9: GetContainerEvents is a streaming RPC: its step opens the stream and needs a save: name"),
      HasSubstr("s.yaml:8:17: expect: does not apply to opening a stream"),
      HasSubstr("s.yaml:11:16: await: \"version\" must name an earlier streaming call's save:"),
      HasSubstr("await: \"nothing\" must name"),
      HasSubstr("an await step takes no request"),
  }));
}


TEST(LoaderTest, ABackgroundCallRunsOnUntilAnAwaitStepJudgesItsAnswer) {
  LoadResult good = Load(R"(scenarios:
  - id: a.b
    title: t
    steps:
      - call: Version
        background: true
        save: slow
      - call: Status
      - await: slow
        expect: {that: {version: "0.1.0"}}
      - call: Version
        request: {version: "${slow.version}"}
)");
  ASSERT_TRUE(good.ok()) << ::testing::PrintToString(Messages(good));
  const Scenario& scenario = good.suites[0].scenarios[0];
  EXPECT_TRUE(scenario.steps[0].background);
  EXPECT_FALSE(scenario.steps[0].opens_stream);
  EXPECT_FALSE(scenario.steps[1].background);
  EXPECT_EQ(scenario.steps[2].kind, Step::Kind::kAwait);
  EXPECT_EQ(scenario.steps[2].await_of, "slow");
  EXPECT_EQ(scenario.steps[2].method, "Version");

  LoadResult bad = Load(R"(scenarios:
  - id: a.b
    title: t
    steps:
      - call: Version
        background: true
      - call: Version
        background: yes please
        save: a
      - call: Version
        background: true
        save: b
        expect: {code: OK}
        concurrent: 2
      - await: b
        wait: 5s
      - await: b
      - host: {temp_dir: {}}
        background: true
      - call: GetContainerEvents
        background: true
        save: events
)");
  EXPECT_THAT(Messages(bad), ::testing::IsSupersetOf({
      HasSubstr("s.yaml:5:9: a background: call needs a save: name"),
      HasSubstr("s.yaml:8:21: background: must be true or false"),
      HasSubstr("s.yaml:13:17: expect: does not apply to starting a background call"),
      HasSubstr("s.yaml:14:21: concurrent: does not apply to starting a background call"),
      HasSubstr("s.yaml:16:15: wait: does not apply to awaiting a background call"),
      HasSubstr("s.yaml:17:16: await: \"b\" must name"),  // awaited once already
      HasSubstr("s.yaml:19:21: background: applies to call steps"),
      HasSubstr("s.yaml:21:21: background: is for unary calls"),
  }));
}
TEST(LoaderTest, ARepeatedKeyIsAnErrorNotASilentOverride) {
  LoadResult result = Load(R"(scenarios:
  - id: a.b
    title: t
    steps:
      - call: Version
        expect:
          that:
            runtime_name: x
            runtime_name: y
)");
  EXPECT_THAT(Messages(result), ::testing::Contains(HasSubstr("s.yaml:9:13: key \"runtime_name\" appears twice in this map")));
}

TEST(LoaderTest, DeepMergeMergesObjectsAndReplacesTheRest) {
  nlohmann::json base = {{"a", {{"x", 1}, {"y", 2}}}, {"list", {1, 2}}};
  DeepMerge(base, {{"a", {{"y", 3}}}, {"list", {9}}, {"new", true}});
  EXPECT_EQ(base, nlohmann::json({{"a", {{"x", 1}, {"y", 3}}}, {"list", {9}}, {"new", true}}));
}

TEST(LoaderTest, AScenarioCarriesItsOwnNormalisationRulesAndABadOneIsRefused) {
  LoadResult good = Load(R"(suite: s
scenarios:
  - id: s.pid
    title: t
    normalise:
      - {path: ExecSync.response.stdout, action: replace, pattern: '^\d+$', with: "<pid>", why: "a PID"}
    steps:
      - call: Version
)");
  ASSERT_TRUE(good.diagnostics.empty()) << Messages(good)[0];
  const nlohmann::json& rules = good.suites[0].scenarios[0].normalise;
  ASSERT_TRUE(rules.is_array());
  EXPECT_EQ(rules[0]["action"], "replace");
  LoadResult bad = Load(R"(suite: s
scenarios:
  - id: s.bad
    title: t
    normalise:
      - {path: x, action: shuffle}
    steps:
      - call: Version
)");
  ASSERT_EQ(bad.diagnostics.size(), 1u);
  EXPECT_THAT(Messages(bad)[0], ::testing::HasSubstr("s.yaml:6:7: action must be one of drop, symbol"));
}

TEST(LoaderTest, SharedStepsAreUsedByNameAndSaveUnderIt) {
  LoadResult result = Load(R"(suite: s
shared:
  pod:
    call: RunPodSandbox
    request: {config: {$fixture: pod_config.json, port_mappings: []}}
  busybox:
    call: PullImage
    request: {image: {image: "busybox:latest"}}
scenarios:
  - id: s.uses-both
    title: Both shared steps, then its own
    uses: [pod, busybox]
    steps:
      - call: PodSandboxStatus
        request: {pod_sandbox_id: "${pod.pod_sandbox_id}"}
)");
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(Messages(result));
  const Suite& suite = result.suites[0];
  ASSERT_THAT(suite.shared, SizeIs(2));
  const Scenario& scenario = suite.scenarios[0];
  ASSERT_THAT(scenario.uses, SizeIs(2));
  EXPECT_EQ(scenario.uses[0].save, "pod");
  EXPECT_EQ(scenario.uses[0].method, "RunPodSandbox");
  EXPECT_EQ(scenario.uses[0].name, "shared pod (RunPodSandbox)");
  EXPECT_EQ(scenario.uses[0].request["config"]["port_mappings"], nlohmann::json::array());
  EXPECT_EQ(scenario.uses[1].save, "busybox");
}

TEST(LoaderTest, SharedStepsAndTheirUsesAreChecked) {
  LoadResult result = Load(R"(suite: s
shared:
  pod:
    call: RunPodSandbox
    request: {config: {$fixture: pod_config.json}}
    expect: {code: NotFound}
  status:
    call: Status
  Bad-Name:
    call: PullImage
    request: {image: {image: x}}
  per_scenario:
    call: PullImage
    request: {image: {image: "busybox:${run.suffix}"}}
  ported:
    call: RunPodSandbox
    request: {config: {$fixture: pod_config.json, port_mappings: [{container_port: 80, host_port: 8080}]}}
scenarios:
  - id: s.unknown
    title: Uses what the suite does not share
    uses: [pod, nothing, pod]
    steps:
      - call: Version
  - id: s.unshared-reference
    title: Refers to a shared step it does not use
    steps:
      - call: PodSandboxStatus
        request: {pod_sandbox_id: "${pod.pod_sandbox_id}"}
)");
  std::string all;
  for (const std::string& message : Messages(result)) all += message + "\n";
  EXPECT_THAT(all, HasSubstr("a shared step has no expect:"));
  EXPECT_THAT(all, HasSubstr("shared: status: only a RunPodSandbox or PullImage call can be shared"));
  EXPECT_THAT(all, HasSubstr("shared: \"Bad-Name\" must be a lowercase name"));
  EXPECT_THAT(all, HasSubstr("uses: \"nothing\" is not one of the suite's shared steps (pod)"));
  EXPECT_THAT(all, HasSubstr("uses: \"pod\" twice"));
  EXPECT_THAT(all, HasSubstr("${pod...} refers to nothing"));
  EXPECT_THAT(all, HasSubstr("shared: per_scenario: a shared step's request cannot refer to ${...}"));
  EXPECT_THAT(all, HasSubstr("shared: ported: a shared pod cannot map a host port"));
}

}  // namespace
}  // namespace crisp::scenario
