// A stable split of scenarios into N shards by ID (crisp run --shard K/N),
// so that N jobs, on one machine or many, run each scenario exactly once.
// A scenario's shard depends on its ID alone: adding or removing others
// moves no scenario between shards.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace crisp::scenario {

struct Shard {
  int index = 1;  // 1-based
  int count = 1;
  std::string ToString() const;  // "K/N"
};

// "K/N" with 1 <= K <= N <= 1000.
absl::StatusOr<Shard> ParseShard(std::string_view text);

// The shard (1..count) a scenario ID falls in: FNV-1a of the ID, modulo count.
int ShardOf(std::string_view id, int count);

inline bool InShard(std::string_view id, const Shard& shard) { return ShardOf(id, shard.count) == shard.index; }

}  // namespace crisp::scenario
