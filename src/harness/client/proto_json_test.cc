#include "harness/client/proto_json.h"

#include "gtest/gtest.h"
#include "runtime/v1/api.pb.h"

namespace crisp::client {
namespace {

namespace v1 = runtime::v1;

TEST(ProtoToJsonTest, KeepsInt64AsNumbersAndEnumsAsNames) {
  v1::Image image;
  image.set_id("sha256:abc");
  image.set_size(10873320);
  image.add_repo_tags("docker.io/library/redis:alpine");
  nlohmann::json json = ProtoToJson(image);
  EXPECT_EQ(json["size"], 10873320);
  EXPECT_TRUE(json["size"].is_number_unsigned());
  EXPECT_EQ(json["repo_tags"][0], "docker.io/library/redis:alpine");
  EXPECT_EQ(json["repo_digests"], nlohmann::json::array());  // defaults are printed
  EXPECT_FALSE(json.contains("uid"));  // an unset message field stays absent

  v1::ContainerStatus status;
  status.set_state(v1::CONTAINER_RUNNING);
  (*status.mutable_labels())["crisp.io/fixture"] = "x";
  json = ProtoToJson(status);
  EXPECT_EQ(json["state"], "CONTAINER_RUNNING");
  EXPECT_EQ(json["labels"]["crisp.io/fixture"], "x");
}

TEST(ProtoToJsonTest, BytesAreTextWhenUtf8ElseBase64) {
  v1::ExecSyncResponse response;
  response.set_stdout("PONG\n");
  response.set_stderr(std::string("\xff\xfe\x00", 3));
  nlohmann::json json = ProtoToJson(response);
  EXPECT_EQ(json["stdout"], "PONG\n");
  EXPECT_EQ(json["stderr"]["base64"], "//4A");
  response.set_stdout("caf\xc3\xa9");
  EXPECT_EQ(ProtoToJson(response)["stdout"], "caf\xc3\xa9");
  response.set_stdout("caf\xc3");  // truncated sequence
  EXPECT_TRUE(ProtoToJson(response)["stdout"].is_object());
}

}  // namespace
}  // namespace crisp::client
