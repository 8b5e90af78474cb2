#include "harness/diff/normalise.h"

#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crisp::diff {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

// A results.json scenario with one observation per step.
json ScenarioOf(std::vector<std::tuple<std::string, json, json>> calls, json substitutions = json::object()) {
  json steps = json::array();
  int index = 0;
  for (auto& [method, request, response] : calls) {
    steps.push_back({{"index", ++index},
                     {"name", method},
                     {"method", method},
                     {"observations", {{{"request", request}, {"code_name", "OK"}, {"response", response},
                                        {"latency_ns", 1234}, {"start", "2026-11-29T00:00:00Z"}}}}});
  }
  return {{"id", "x.y"}, {"steps", steps}, {"substitutions", substitutions}};
}

TEST(NormaliseTest, IdsBecomeSymbolsByFirstAppearanceEverywhereTheyOccur) {
  json scenario = ScenarioOf({
      {"RunPodSandbox", json::object(), {{"pod_sandbox_id", "aaaa1111"}}},
      {"CreateContainer", {{"pod_sandbox_id", "aaaa1111"}}, {{"container_id", "cccc2222"}}},
      {"ContainerStatus", {{"container_id", "cccc2222"}},
       {{"status", {{"id", "cccc2222"}, {"log_path", "/var/log/pods/aaaa1111/c/0.log"}}}}},
  });
  std::vector<json> steps = Normaliser().Normalise(scenario);
  ASSERT_EQ(steps.size(), 3u);
  EXPECT_EQ(steps[0], json({{"code", "OK"}, {"response", {{"pod_sandbox_id", "pod#1"}}}}));
  EXPECT_EQ(steps[1]["response"]["container_id"], "ctr#1");
  EXPECT_EQ(steps[2]["response"]["status"]["id"], "ctr#1");
  EXPECT_EQ(steps[2]["response"]["status"]["log_path"], "/var/log/pods/pod#1/c/0.log");
}

TEST(NormaliseTest, TwoRuntimesWithDifferentIdsNormaliseAlike) {
  auto run = [](const std::string& pod, const std::string& ctr) {
    return Normaliser().Normalise(ScenarioOf({
        {"RunPodSandbox", json::object(), {{"pod_sandbox_id", pod}}},
        {"CreateContainer", {{"pod_sandbox_id", pod}}, {{"container_id", ctr}}},
        {"ListContainers", json::object(), {{"containers", {{{"id", ctr}, {"pod_sandbox_id", pod}}}}}},
    }));
  };
  EXPECT_EQ(run("p1", "c1"), run("zz9", "yy8"));
}

TEST(NormaliseTest, TimestampsKeepOnlyWhetherSetAndTheirOrder) {
  json scenario = ScenarioOf({{"ContainerStatus", json::object(),
                               {{"status", {{"created_at", 500}, {"started_at", 900}, {"finished_at", 0}}}}}});
  json status = Normaliser().Normalise(scenario)[0]["response"]["status"];
  EXPECT_EQ(status["created_at"], "t1");
  EXPECT_EQ(status["started_at"], "t2");
  EXPECT_EQ(status["finished_at"], 0);

  json same_time = ScenarioOf({{"ContainerStatus", json::object(), {{"status", {{"created_at", 7}, {"started_at", 7}}}}}});
  json other = Normaliser().Normalise(same_time)[0]["response"]["status"];
  EXPECT_EQ(other["created_at"], other["started_at"]);
}

// A time inside a field that is dropped must not shift the ranks of the
// times that stay.
TEST(NormaliseTest, DroppedFieldsDoNotShiftTimeRanks) {
  absl::StatusOr<std::vector<Rule>> rules = ParseRules("rules:\n  - path: '**.extra'\n    action: drop\n", "r.yaml");
  ASSERT_TRUE(rules.ok());
  json with_extra = ScenarioOf({{"ContainerStatus", json::object(),
                                 {{"status", {{"created_at", 500}, {"started_at", 900}, {"extra", {{"created_at", 100}}}}}}}});
  json without = ScenarioOf({{"ContainerStatus", json::object(), {{"status", {{"created_at", 500}, {"started_at", 900}}}}}});
  Normaliser normaliser(*rules);
  EXPECT_EQ(normaliser.Normalise(with_extra)[0], normaliser.Normalise(without)[0]);
}

TEST(NormaliseTest, AddressesAndRunValuesAndLogTimeForms) {
  json scenario = ScenarioOf({{"PodSandboxStatus", json::object(),
                               {{"status", {{"network", {{"ip", "10.88.0.7"}, {"additional_ips", {{{"ip", "fd00::7"}}}}}},
                                            {"metadata", {{"name", "redis-ab12cd"}}},
                                            {"labels", {{"crisp.run-id", "20261129-1-ffeedd"}}}}},
                                {"port", 34567}}}},
                             {{"ab12cd", "${run.suffix}"}, {"20261129-1-ffeedd", "${run.id}"}, {"34567", "${host-port#1}"}});
  json response = Normaliser().Normalise(scenario)[0]["response"];
  EXPECT_EQ(response["status"]["network"]["ip"], "an IPv4 address");
  EXPECT_EQ(response["status"]["network"]["additional_ips"][0]["ip"], "an IPv6 address");
  EXPECT_EQ(response["status"]["metadata"]["name"], "redis-${run.suffix}");
  EXPECT_EQ(response["status"]["labels"]["crisp.run-id"], "${run.id}");
  EXPECT_EQ(response["port"], "${host-port#1}");

  json log_step = {{"index", 1}, {"name", "log"}, {"method", ""},
                   {"observations", {{{"path", "/x"}, {"log", {{"path", "/x"}, {"entries", {{{"time", "2026-11-29T05:00:00.123Z"}},
                                                                                          {{"time", "2026-11-29T05:00:00+00:00"}},
                                                                                          {{"time", "yesterday"}}}},
                                                                           {"text", "1:C 29 Nov 2026 05:12:34.488 # Ready in ab12cd"}}}}}}};
  json log = Normaliser().Normalise({{"steps", {log_step}}, {"substitutions", {{"ab12cd", "${run.suffix}"}}}})[0]["log"];
  EXPECT_EQ(log["text"], "1:C 29 Nov 2026 <time> # Ready in ${run.suffix}");
  EXPECT_FALSE(log.contains("path"));
  EXPECT_EQ(log["entries"][0]["time"], "RFC 3339, fraction, Z");
  EXPECT_EQ(log["entries"][1]["time"], "RFC 3339, offset +00:00");
  EXPECT_EQ(log["entries"][2]["time"], "not RFC 3339");
}

TEST(NormaliseTest, VerboseInfoKeepsItsKeysAndErrorsKeepOnlyTheCode) {
  json scenario = ScenarioOf({{"ContainerStatus", json::object(), {{"info", {{"info", "{\"pid\": 42}"}}}}}});
  EXPECT_EQ(Normaliser().Normalise(scenario)[0]["response"]["info"], json::array({"info"}));

  json failed = {{"steps", {{{"method", "StopContainer"},
                             {"observations", {{{"code_name", "NotFound"}, {"message", "container abc not found"},
                                                {"response", nullptr}}}}}}}};
  EXPECT_EQ(Normaliser().Normalise(failed)[0], json({{"code", "NotFound"}}));
}

TEST(NormaliseTest, RulesFromYamlGoFirstAndBadOnesSayWhere) {
  absl::StatusOr<std::vector<Rule>> rules = ParseRules(R"(
rules:
  - path: ContainerStatus.response.status.image_ref
    action: replace
    pattern: "^sha256:[0-9a-f]+$"
    with: "<image id>"
  - path: "**.created_at"
    action: drop
)", "mine.yaml");
  ASSERT_TRUE(rules.ok()) << rules.status();
  EXPECT_EQ((*rules)[0].source, "mine.yaml:3:5");
  json scenario = ScenarioOf({{"ContainerStatus", json::object(),
                               {{"status", {{"image_ref", "sha256:abc123"}, {"created_at", 5}}}}}});
  json status = Normaliser(*rules).Normalise(scenario)[0]["response"]["status"];
  EXPECT_EQ(status["image_ref"], "<image id>");
  EXPECT_FALSE(status.contains("created_at"));  // the file's rule beat the built-in timestamp rule

  auto error = [](std::string_view yaml) { return std::string(ParseRules(yaml, "bad.yaml").status().message()); };
  EXPECT_THAT(error("rules:\n  - path: a\n    action: explode\n"), HasSubstr("bad.yaml:3:13: action must be one of drop,"));
  EXPECT_THAT(error("rules:\n  - path: a\n    action: symbol\n"), HasSubstr("bad.yaml:2:5: a symbol rule needs a kind"));
  EXPECT_THAT(error("rules:\n  - path: a\n    action: replace\n    pattern: \"(\"\n"), HasSubstr("bad.yaml:4:14: bad regular expression"));
  EXPECT_THAT(error("rules: [\n"), HasSubstr("bad.yaml:"));
  EXPECT_THAT(error("rules:\n  - path: a\n    action: drop\n    colour: red\n"), HasSubstr("unknown key \"colour\""));
}

TEST(NormaliseTest, PathPatterns) {
  EXPECT_TRUE(PathMatches("**.created_at", {"ContainerStatus", "response", "status", "created_at"}));
  EXPECT_TRUE(PathMatches("*Stats.response.**.value", {"ListContainerStats", "response", "stats[]", "cpu", "x", "value"}));
  EXPECT_FALSE(PathMatches("*Stats.response.**.value", {"ContainerStatus", "response", "value"}));
  EXPECT_TRUE(PathMatches("ListContainers.response.containers[].id", {"ListContainers", "response", "containers[]", "id"}));
  EXPECT_TRUE(PathMatches("**.labels.'crisp.run-id'", {"X", "response", "labels", "crisp.run-id"}));
  EXPECT_FALSE(PathMatches("**.labels.crisp.run-id", {"X", "response", "labels", "crisp.run-id"}));
}

TEST(NormaliseTest, StreamingUrlsKeepTheirSchemeAndKindAndForwardedHttpDatesGo) {
  json scenario = ScenarioOf({{"Exec", json::object(), {{"url", "http://127.0.0.1:38137/exec/6zdM-D9H"}}},
                              {"Attach", json::object(), {{"url", "//10.0.0.1:1/cri/attach/ab12?x=1"}}},
                              {"PortForward", json::object(), {{"url", "https://h:9/portforward/c29ea43f"}}}});
  std::vector<json> steps = Normaliser().Normalise(scenario);
  EXPECT_EQ(steps[0]["response"]["url"], "http://<server>/exec/<token>");
  EXPECT_EQ(steps[1]["response"]["url"], "//<server>/attach/<token>");
  EXPECT_EQ(steps[2]["response"]["url"], "https://<server>/portforward/<token>");

  json forward = {{"method", ""},
                  {"observations", {{{"host", "port_forward"},
                                     {"result", {{"data", "HTTP/1.1 200 OK\r\nDate: Wed, 02 Dec 2026 16:27:41 GMT\r\n\r\nbody"},
                                                 {"forwards", {{{"data", "Date: Thu, 03 Dec 2026 01:00:00 GMT\r\n"}}}}}}}}}};
  forward["observations"][0]["result"]["port"] = 60067;  // a host port of the run, under a replace rule's path
  json host = Normaliser().Normalise({{"steps", {forward}}, {"substitutions", {{"60067", "${host-port#1}"}}}})[0]["host"];
  EXPECT_EQ(host["port"], "${host-port#1}");
  EXPECT_EQ(host["data"], "HTTP/1.1 200 OK\r\nDate: <http-date>\r\n\r\nbody");
  EXPECT_EQ(host["forwards"][0]["data"], "Date: <http-date>\r\n");
}

TEST(NormaliseTest, ListsInTheRuntimesOrderCompareAlike) {
  auto scenario = [](json first, json second) {
    return ScenarioOf({{"CreateContainer", json::object(), {{"container_id", "aaa"}}},
                       {"CreateContainer", json::object(), {{"container_id", "bbb"}}},
                       {"ListContainers", json::object(), {{"containers", {std::move(first), std::move(second)}}}}});
  };
  json a = {{"id", "aaa"}, {"metadata", {{"name", "one"}}}};
  json b = {{"id", "bbb"}, {"metadata", {{"name", "two"}}}};
  json in_order = Normaliser().Normalise(scenario(a, b))[2];
  json reversed = Normaliser().Normalise(scenario(b, a))[2];
  EXPECT_EQ(in_order, reversed);
  EXPECT_EQ(in_order["response"]["containers"][0]["id"], "ctr#1");
}

// A List* answer may show other scenarios' objects, running beside this
// one: which it shows is timing, so they are left out, and they take no
// symbol numbers from the scenario's own.
TEST(NormaliseTest, ListsLeaveOutObjectsTheScenarioNeverMade) {
  auto scenario = [](json list) {
    return ScenarioOf({{"CreateContainer", json::object(), {{"container_id", "aaa"}}},
                       {"ListContainerStats", json::object(), {{"stats", std::move(list)}}},
                       {"CreateContainer", json::object(), {{"container_id", "bbb"}}}});
  };
  json mine = {{"attributes", {{"id", "aaa"}, {"labels", {{"foo", "1"}}}}}};
  json other = {{"attributes", {{"id", "zzz"}, {"labels", {{"foo", "2"}}}}}};
  std::vector<json> alone = Normaliser().Normalise(scenario(json::array({mine})));
  std::vector<json> crowded = Normaliser().Normalise(scenario(json::array({other, mine})));
  EXPECT_EQ(alone, crowded);
  EXPECT_EQ(crowded[1]["response"]["stats"].size(), 1u);
  EXPECT_EQ(crowded[1]["response"]["stats"][0]["attributes"]["id"], "ctr#1");
  EXPECT_EQ(crowded[2]["response"]["container_id"], "ctr#2");
}

// An image's other names come from what else the run pulled: only those of
// repositories the scenario's own requests name are compared.
TEST(NormaliseTest, AnImagesNamesAreThoseTheScenarioUsed) {
  auto status = [](json tags, json digests) {
    return Normaliser().Normalise(ScenarioOf({{"ImageStatus", {{"image", {{"image", "busybox:latest"}}}},
                                               {{"image", {{"repo_tags", tags}, {"repo_digests", digests}}}}}}))[0];
  };
  json alone = status({"docker.io/library/busybox:latest"}, {"docker.io/library/busybox@sha256:aa"});
  json crowded = status({"docker.io/library/busybox:latest", "registry.k8s.io/e2e/busybox:1.29"},
                        {"docker.io/library/busybox@sha256:aa", "registry.k8s.io/e2e/busybox@sha256:aa"});
  EXPECT_EQ(alone, crowded);
  EXPECT_EQ(crowded["response"]["image"]["repo_tags"], json({"docker.io/library/busybox:latest"}));
  // A name of the same repository with another tag stays: that is behaviour.
  json other_tag = status({"docker.io/library/busybox:latest", "docker.io/library/busybox:1.36"}, json::array());
  EXPECT_EQ(other_tag["response"]["image"]["repo_tags"],
            json({"docker.io/library/busybox:1.36", "docker.io/library/busybox:latest"}));  // sorted
  EXPECT_EQ(ImageRepository("localhost:5000/app:v1"), "localhost:5000/app");
  EXPECT_EQ(ImageRepository("quay.io/x/y@sha256:0"), "quay.io/x/y");
  EXPECT_EQ(ImageRepository("library/redis"), "docker.io/library/redis");
}

// docs/normalisation.md lists every built-in rule, so the docs cannot drift.
TEST(NormaliseTest, DocsListEveryBuiltInRule) {
  std::ifstream in(std::string(CRISP_SOURCE_DIR) + "/docs/normalisation.md");
  ASSERT_TRUE(in) << "docs/normalisation.md is missing";
  std::stringstream text;
  text << in.rdbuf();
  for (const Rule& rule : DefaultRules()) {
    EXPECT_THAT(text.str(), HasSubstr("`" + rule.path + "` | " + std::string(ActionName(rule.action))))
        << "docs/normalisation.md does not list the rule for " << rule.path;
  }
}

}  // namespace
}  // namespace crisp::diff
