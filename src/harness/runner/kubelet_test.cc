#include "harness/runner/kubelet.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crisp::runner::kubelet {
namespace {

using nlohmann::json;

json Pod(json namespaces) {
  return {{"metadata", {{"name", "p"}}},
          {"log_directory", "/var/log/pods/ns_p_uid"},
          {"linux", {{"security_context", {{"namespace_options", std::move(namespaces)}}}}}};
}

TEST(InheritNamespacesTest, UnsetModesTakeThePods) {
  json container = {{"metadata", {{"name", "c"}}}};
  InheritNamespaces(Pod({{"network", 0}, {"pid", 1}, {"ipc", 0}}), container);
  EXPECT_EQ(container["linux"]["security_context"]["namespace_options"],
            json({{"network", 0}, {"pid", 1}, {"ipc", 0}}));
}

TEST(InheritNamespacesTest, ModesTheContainerSetsStay) {
  json container = {{"linux", {{"security_context", {{"namespace_options", {{"pid", "POD"}}}, {"privileged", true}}}}}};
  InheritNamespaces(Pod({{"network", "NODE"}, {"pid", "CONTAINER"}}), container);
  EXPECT_EQ(container["linux"]["security_context"]["namespace_options"], json({{"pid", "POD"}, {"network", "NODE"}}));
  EXPECT_EQ(container["linux"]["security_context"]["privileged"], true);
}

TEST(InheritNamespacesTest, APodWithoutNamespaceOptionsChangesNothing) {
  json container = {{"metadata", {{"name", "c"}}}};
  json before = container;
  InheritNamespaces(json{{"metadata", {{"name", "p"}}}}, container);
  EXPECT_EQ(container, before);
  InheritNamespaces(json::object(), container);
  EXPECT_EQ(container, before);
}

TEST(KubeletLabelsTest, SandboxAndContainerCarryThePodsAndTheirOwnNames) {
  json pod = {{"metadata", {{"name", "web"}, {"namespace", "shop"}, {"uid", "u-1"}}}, {"labels", {{"app", "x"}}}};
  AddSandboxLabels(pod);
  EXPECT_EQ(pod["labels"], json({{"app", "x"},
                                 {"io.kubernetes.pod.name", "web"},
                                 {"io.kubernetes.pod.namespace", "shop"},
                                 {"io.kubernetes.pod.uid", "u-1"}}));
  json container = {{"metadata", {{"name", "nginx"}}}};
  AddContainerLabels(pod, container);
  EXPECT_EQ(container["labels"], json({{"io.kubernetes.container.name", "nginx"},
                                       {"io.kubernetes.pod.name", "web"},
                                       {"io.kubernetes.pod.namespace", "shop"},
                                       {"io.kubernetes.pod.uid", "u-1"}}));
}

TEST(KubeletAnnotationsTest, ContainersCarryTheKubeletsAnnotationsAndTheHashFollowsTheSpec) {
  json container = {{"metadata", {{"name", "nginx"}, {"attempt", 2}}}, {"image", {{"image", "nginx"}}},
                    {"annotations", {{"mine", "kept"}, {"io.kubernetes.container.terminationMessagePolicy", "FallbackToLogsOnError"}}}};
  AddContainerAnnotations(container);
  const json& annotations = container["annotations"];
  EXPECT_EQ(annotations["mine"], "kept");
  EXPECT_EQ(annotations["io.kubernetes.container.terminationMessagePolicy"], "FallbackToLogsOnError");
  EXPECT_EQ(annotations["io.kubernetes.container.restartCount"], "2");
  EXPECT_EQ(annotations["io.kubernetes.container.terminationMessagePath"], "/dev/termination-log");
  EXPECT_EQ(annotations["io.kubernetes.pod.terminationGracePeriod"], "30");
  const std::string hash = annotations["io.kubernetes.container.hash"];
  EXPECT_THAT(hash, ::testing::MatchesRegex("[0-9a-f]+"));
  // The same spec on another attempt hashes the same; another image does not.
  json again = {{"metadata", {{"name", "nginx"}, {"attempt", 3}}}, {"image", {{"image", "nginx"}}}};
  AddContainerAnnotations(again);
  EXPECT_EQ(again["annotations"]["io.kubernetes.container.hash"], hash);
  json other = {{"metadata", {{"name", "nginx"}}}, {"image", {{"image", "redis"}}}};
  AddContainerAnnotations(other);
  EXPECT_NE(other["annotations"]["io.kubernetes.container.hash"], hash);
  EXPECT_EQ(other["annotations"]["io.kubernetes.container.restartCount"], "0");
}

TEST(KubeletLogPathTest, AContainerWithoutALogPathGetsTheKubeletsOne) {
  json pod = {{"log_directory", "/var/log/pods/x"}};
  json container = {{"metadata", {{"name", "redis"}, {"attempt", 1}}}};
  AddLogPath(pod, container);
  EXPECT_EQ(container["log_path"], "redis/1.log");
  json given = {{"metadata", {{"name", "redis"}}}, {"log_path", "mine.log"}};
  AddLogPath(pod, given);
  EXPECT_EQ(given["log_path"], "mine.log");
  json empty = {{"metadata", {{"name", "redis"}}}, {"log_path", ""}};
  AddLogPath(pod, empty);
  EXPECT_EQ(empty["log_path"], "redis/0.log");
  json no_directory = {{"metadata", {{"name", "redis"}}}};
  AddLogPath(json::object(), no_directory);
  EXPECT_FALSE(no_directory.contains("log_path"));
}

TEST(KubeletLabelsTest, LabelsAlreadyGivenAndMissingMetadataAreLeftAlone) {
  json pod = {{"metadata", {{"name", "web"}}}, {"labels", {{"io.kubernetes.pod.name", "mine"}}}};
  AddSandboxLabels(pod);
  EXPECT_EQ(pod["labels"], json({{"io.kubernetes.pod.name", "mine"}}));
  json bare = json::object();
  AddSandboxLabels(bare);
  EXPECT_EQ(bare, json::object());
}

TEST(LogDirectoryTest, PodAndContainerDirectoriesAsTheKubeletMakesThem) {
  json pod = Pod(json::object());
  EXPECT_EQ(PodLogDirectory(pod), "/var/log/pods/ns_p_uid");
  EXPECT_EQ(ContainerLogDirectory(pod, {{"log_path", "redis/0.log"}}), "/var/log/pods/ns_p_uid/redis");
  EXPECT_EQ(ContainerLogDirectory(pod, {{"log_path", "0.log"}}), "/var/log/pods/ns_p_uid");
  EXPECT_EQ(ContainerLogDirectory(pod, {{"log_path", "a/./b/1.log"}}), "/var/log/pods/ns_p_uid/a/b");
}

TEST(LogDirectoryTest, NothingOutsideThePodsDirectoryAndNothingWithoutOne) {
  json pod = Pod(json::object());
  EXPECT_EQ(ContainerLogDirectory(pod, {{"log_path", "../../../../escaped.log"}}), "");
  EXPECT_EQ(ContainerLogDirectory(pod, {{"log_path", "a/../../x/0.log"}}), "");
  EXPECT_EQ(ContainerLogDirectory(pod, {{"log_path", "/abs/0.log"}}), "");
  EXPECT_EQ(ContainerLogDirectory(pod, {{"log_path", ""}}), "");
  EXPECT_EQ(ContainerLogDirectory(pod, json::object()), "");
  EXPECT_EQ(ContainerLogDirectory(json{{"log_directory", ""}}, {{"log_path", "c/0.log"}}), "");
  EXPECT_EQ(PodLogDirectory(json{{"log_directory", 7}}), "");
}

TEST(MakeDirectoryTest, CreatesEveryLevelWithMode0755) {
  std::filesystem::path base = std::filesystem::temp_directory_path() /
                               ("crisp-kubelet-test-" + std::to_string(getpid()));
  std::filesystem::remove_all(base);
  mode_t old_mask = umask(022);
  ASSERT_TRUE(MakeDirectory((base / "pod" / "ctr").string()).ok());
  ASSERT_TRUE(MakeDirectory((base / "pod" / "ctr").string()).ok());  // again: already there
  umask(old_mask);
  struct stat info {};
  ASSERT_EQ(stat((base / "pod" / "ctr").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0755u);
  ASSERT_TRUE(std::filesystem::exists(base / "pod" / "ctr"));
  std::filesystem::path file = base / "file";
  { std::FILE* f = std::fopen(file.c_str(), "w"); ASSERT_NE(f, nullptr); std::fclose(f); }
  EXPECT_FALSE(MakeDirectory((file / "sub").string()).ok());
  std::filesystem::remove_all(base);
}

}  // namespace
}  // namespace crisp::runner::kubelet
