#include "harness/scenario/json_path.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crisp::scenario {
namespace {

using ::testing::HasSubstr;

const nlohmann::json kStatus = nlohmann::json::parse(R"({
  "status": {"state": "SANDBOX_READY", "labels": {"crisp.io/fixture": "x", "app": "seed"}},
  "containers": [{"id": "a"}, {"id": "b", "image": {"image": "redis"}}]
})");

TEST(JsonPathTest, KeysIndexesAndQuotedKeys) {
  auto path = ParsePath("containers[1].image.image");
  ASSERT_TRUE(path.ok()) << path.status();
  ASSERT_NE(Lookup(kStatus, *path), nullptr);
  EXPECT_EQ(*Lookup(kStatus, *path), "redis");
  EXPECT_EQ(*Lookup(kStatus, *ParsePath("status.labels['crisp.io/fixture']")), "x");
  EXPECT_EQ(*Lookup(kStatus, *ParsePath("status.labels[\"app\"]")), "seed");
  EXPECT_EQ(*Lookup(kStatus, *ParsePath("")), kStatus);
}

TEST(JsonPathTest, MissingSegmentsAreNull) {
  EXPECT_EQ(Lookup(kStatus, *ParsePath("status.network.ip")), nullptr);
  EXPECT_EQ(Lookup(kStatus, *ParsePath("containers[2]")), nullptr);
  EXPECT_EQ(Lookup(kStatus, *ParsePath("status[0]")), nullptr);
  EXPECT_EQ(Lookup(kStatus, *ParsePath("containers.id")), nullptr);
}

TEST(JsonPathTest, MalformedPathsSayWhere) {
  EXPECT_THAT(ParsePath("a..b").status().message(), HasSubstr("character 3: empty segment"));
  EXPECT_THAT(ParsePath("a.").status().message(), HasSubstr("ends with '.'"));
  EXPECT_THAT(ParsePath("a[x]").status().message(), HasSubstr("index [0] or a quoted key"));
  EXPECT_THAT(ParsePath("a[0").status().message(), HasSubstr("'[' without ']'"));
  EXPECT_THAT(ParsePath("a[0]b").status().message(), HasSubstr("expected '.' or '['"));
}

}  // namespace
}  // namespace crisp::scenario
