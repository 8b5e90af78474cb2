#include "harness/scenario/shard.h"

#include <charconv>
#include <cstdint>

#include "common/strings.h"

namespace crisp::scenario {
namespace {

bool ParseInt(std::string_view text, int& out) {
  if (text.empty()) return false;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc() && end == text.data() + text.size();
}

}  // namespace

std::string Shard::ToString() const { return crisp::StrCat(index, "/", count); }

absl::StatusOr<Shard> ParseShard(std::string_view text) {
  size_t slash = text.find('/');
  Shard shard;
  if (slash == std::string_view::npos || !ParseInt(text.substr(0, slash), shard.index) ||
      !ParseInt(text.substr(slash + 1), shard.count)) {
    return absl::InvalidArgumentError(crisp::StrCat("--shard: \"", text, "\" is not K/N (for example 2/3)"));
  }
  if (shard.count < 1 || shard.count > 1000 || shard.index < 1 || shard.index > shard.count) {
    return absl::InvalidArgumentError(
        crisp::StrCat("--shard: ", text, ": K must be 1..N and N 1..1000"));
  }
  return shard;
}

int ShardOf(std::string_view id, int count) {
  uint64_t hash = 14695981039346656037ULL;
  for (char c : id) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;
  }
  return static_cast<int>(hash % static_cast<uint64_t>(count)) + 1;
}

}  // namespace crisp::scenario
