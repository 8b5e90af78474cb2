#include "harness/client/call_record.h"

#include <chrono>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "harness/client/cri_client.h"
#include "runtime/v1/api.pb.h"

namespace crisp::client {
namespace {

using ::testing::HasSubstr;

CallRecord VersionRecord() {
  CallRecord record;
  record.service = "runtime.v1.RuntimeService";
  record.method = "Version";
  auto request = std::make_shared<runtime::v1::VersionRequest>();
  request->set_version("v1");
  record.request = request;
  auto response = std::make_shared<runtime::v1::VersionResponse>();
  response->set_runtime_name("containerd");
  response->set_runtime_api_version("v1");
  record.response = response;
  record.start = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));
  record.latency = std::chrono::microseconds(1500);
  return record;
}

TEST(CallRecordJsonTest, KeepsMessagesCodesAndTimesAsData) {
  nlohmann::json json = ToJson(VersionRecord());
  EXPECT_EQ(json["service"], "runtime.v1.RuntimeService");
  EXPECT_EQ(json["method"], "Version");
  EXPECT_EQ(json["code"], 0);
  EXPECT_EQ(json["code_name"], "OK");
  EXPECT_EQ(json["start"], "2023-11-14T22:13:20+00:00");
  EXPECT_EQ(json["latency_ns"], 1500000);
  EXPECT_EQ(json["request"]["version"], "v1");
  EXPECT_EQ(json["response"]["runtime_name"], "containerd");
  // Defaults are printed, so records of one type share a shape.
  EXPECT_EQ(json["response"]["runtime_version"], "");
  EXPECT_FALSE(json.contains("message"));
}

TEST(CallRecordJsonTest, FailedCallHasNullResponseAndTheStatus) {
  CallRecord record = VersionRecord();
  record.response = nullptr;
  record.code = absl::StatusCode::kNotFound;
  record.message = "container \"abc\" not found";
  nlohmann::json json = ToJson(record);
  EXPECT_EQ(json["code"], 5);
  EXPECT_EQ(json["code_name"], "NotFound");
  EXPECT_EQ(json["message"], "container \"abc\" not found");
  EXPECT_TRUE(json["response"].is_null());
  EXPECT_EQ(record.status(), absl::NotFoundError("container \"abc\" not found"));
}

TEST(CallRecordJsonTest, RegistryCredentialsAreRedacted) {
  CallRecord record;
  record.method = "PullImage";
  auto request = std::make_shared<runtime::v1::PullImageRequest>();
  request->mutable_image()->set_image("registry.example/private:1");
  request->mutable_auth()->set_username("ci");
  request->mutable_auth()->set_password("hunter2");
  request->mutable_auth()->set_registry_token("tok");
  record.request = request;
  nlohmann::json json = ToJson(record);
  EXPECT_EQ(json["request"]["auth"]["username"], "ci");
  EXPECT_EQ(json["request"]["auth"]["password"], "<redacted>");
  EXPECT_EQ(json["request"]["auth"]["registry_token"], "<redacted>");
  EXPECT_EQ(json["request"]["auth"]["identity_token"], "");
  EXPECT_EQ(json.dump().find("hunter2"), std::string::npos);
}

TEST(GrpcCodeNameTest, UsesGrpcSpelling) {
  EXPECT_EQ(GrpcCodeName(absl::StatusCode::kCancelled), "Canceled");
  EXPECT_EQ(GrpcCodeName(absl::StatusCode::kDeadlineExceeded), "DeadlineExceeded");
  EXPECT_EQ(GrpcCodeName(absl::StatusCode::kUnimplemented), "Unimplemented");
}

TEST(MemoryCallRecorderTest, KeepsEveryRecordFromManyThreads) {
  MemoryCallRecorder recorder;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) recorder.Record(VersionRecord());
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(recorder.Records().size(), 400u);
}

// The gRPC client records every call, also those that never reach a runtime.
TEST(GrpcCriClientRecordingTest, RecordsTransportFailuresAndWrongRequestTypes) {
  MemoryCallRecorder recorder;
  auto endpoint = ParseEndpoint("unix:///nonexistent/crisp-test.sock");
  ASSERT_TRUE(endpoint.ok());
  auto client = NewGrpcCriClient(*endpoint, {.default_timeout = absl::Seconds(2),
                                             .recorder = &recorder});
  const MethodDescriptor* version = *FindCriMethod("Version");
  runtime::v1::VersionRequest request;
  request.set_version("v1");
  CallRecord unreachable = client->Call(*version, request);
  EXPECT_EQ(unreachable.code, absl::StatusCode::kUnavailable);
  EXPECT_EQ(unreachable.response, nullptr);
  EXPECT_GT(unreachable.latency.count(), 0);

  CallRecord wrong_type = client->Call(*version, runtime::v1::StatusRequest());
  EXPECT_EQ(wrong_type.code, absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(wrong_type.message, HasSubstr("Version takes runtime.v1.VersionRequest"));

  CallRecord streaming = client->Call(**FindCriMethod("GetContainerEvents"),
                                      runtime::v1::GetEventsRequest());
  EXPECT_EQ(streaming.code, absl::StatusCode::kUnimplemented);

  std::vector<CallRecord> records = recorder.Records();
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].method, "Version");
  EXPECT_EQ(records[0].request->GetTypeName(), "runtime.v1.VersionRequest");
  EXPECT_EQ(records[2].method, "GetContainerEvents");
}

}  // namespace
}  // namespace crisp::client
