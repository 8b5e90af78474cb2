#include "harness/client/methods.h"

#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crisp::client {
namespace {

using ::testing::HasSubstr;

TEST(MethodsTest, KnowsAllFortyOneRpcsOfCriApiV036) {
  std::set<std::string> names;
  int runtime = 0;
  int image = 0;
  for (const MethodDescriptor* method : AllCriMethods()) {
    names.insert(method->name());
    (method->service()->name() == "RuntimeService" ? runtime : image)++;
  }
  EXPECT_EQ(runtime, 35);
  EXPECT_EQ(image, 6);
  EXPECT_EQ(names.size(), 41u);
  for (const char* name : {"Version", "RunPodSandbox", "ExecSync", "RuntimeConfig",
                           "UpdatePodSandboxResources", "GetContainerEvents",
                           "PullImage", "ImageFsInfo", "StreamImages"}) {
    EXPECT_TRUE(names.count(name)) << name;
  }
}

TEST(MethodsTest, FindsByEverySpelling) {
  for (const char* spelling :
       {"Version", "RuntimeService/Version", "runtime.v1.RuntimeService/Version",
        "/runtime.v1.RuntimeService/Version"}) {
    auto method = FindCriMethod(spelling);
    ASSERT_TRUE(method.ok()) << spelling << ": " << method.status();
    EXPECT_EQ((*method)->full_name(), "runtime.v1.RuntimeService.Version");
  }
  auto pull = FindCriMethod("ImageService/PullImage");
  ASSERT_TRUE(pull.ok());
  EXPECT_EQ((*pull)->input_type()->full_name(), "runtime.v1.PullImageRequest");
}

TEST(MethodsTest, WrongServiceOrNameIsNotFoundWithAHint) {
  auto wrong_service = FindCriMethod("ImageService/Version");
  EXPECT_EQ(wrong_service.status().code(), absl::StatusCode::kNotFound);

  auto misspelled = FindCriMethod("execsync");
  EXPECT_EQ(misspelled.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(misspelled.status().message(), HasSubstr("did you mean ExecSync?"));

  auto unknown = FindCriMethod("Frobnicate");
  EXPECT_THAT(unknown.status().message(), HasSubstr("no CRI v1 RPC named \"Frobnicate\""));
}

TEST(MethodsTest, GrpcPathAndStreamingShape) {
  auto version = FindCriMethod("Version");
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(GrpcPath(**version), "/runtime.v1.RuntimeService/Version");
  EXPECT_TRUE(IsUnary(**version));

  auto events = FindCriMethod("GetContainerEvents");
  ASSERT_TRUE(events.ok());
  EXPECT_FALSE(IsUnary(**events));
  EXPECT_EQ(GrpcPath(**events), "/runtime.v1.RuntimeService/GetContainerEvents");
}

}  // namespace
}  // namespace crisp::client
