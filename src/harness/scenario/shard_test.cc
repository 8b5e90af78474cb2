#include "harness/scenario/shard.h"

#include <set>
#include <string>

#include "gtest/gtest.h"

namespace crisp::scenario {
namespace {

TEST(ShardTest, ParsesKOfN) {
  absl::StatusOr<Shard> shard = ParseShard("2/3");
  ASSERT_TRUE(shard.ok()) << shard.status();
  EXPECT_EQ(shard->index, 2);
  EXPECT_EQ(shard->count, 3);
  EXPECT_EQ(shard->ToString(), "2/3");
}

TEST(ShardTest, RefusesWhatIsNotKOfN) {
  for (const char* text : {"", "3", "0/3", "4/3", "1/0", "a/3", "1/3x", "-1/3", "1/1001", "/", "2/"}) {
    absl::StatusOr<Shard> shard = ParseShard(text);
    ASSERT_FALSE(shard.ok()) << text;
    EXPECT_NE(std::string(shard.status().message()).find("--shard"), std::string::npos);
  }
}

TEST(ShardTest, EveryIdFallsInExactlyOneShard) {
  for (int count : {1, 2, 3, 7}) {
    std::set<std::string> seen;
    for (int i = 0; i < 500; ++i) {
      std::string id = "area.scenario-" + std::to_string(i);
      int in = 0;
      for (int k = 1; k <= count; ++k) in += InShard(id, Shard{k, count});
      EXPECT_EQ(in, 1) << id << " in " << count;
      int shard = ShardOf(id, count);
      EXPECT_GE(shard, 1);
      EXPECT_LE(shard, count);
    }
  }
}

TEST(ShardTest, DependsOnTheIdAloneAndSpreads) {
  // Fixed values: a scenario must not move between shards from one build,
  // run or machine to the next.
  EXPECT_EQ(ShardOf("pod.redis-lifecycle", 3), ShardOf(std::string("pod.") + "redis-lifecycle", 3));
  int sizes[4] = {0, 0, 0, 0};
  for (int i = 0; i < 300; ++i) ++sizes[ShardOf("s" + std::to_string(i), 3)];
  for (int k = 1; k <= 3; ++k) {
    EXPECT_GT(sizes[k], 60) << "shard " << k;
    EXPECT_LT(sizes[k], 140) << "shard " << k;
  }
}

}  // namespace
}  // namespace crisp::scenario
