// IDs and lookups shared by sandboxes and containers.
#pragma once

#include <string>

#include "google/protobuf/map.h"

namespace crisp::crispd {

// A new random ID: 64 lowercase hex digits, as CRI runtimes use.
std::string NewId();

// The entry whose key is `id`, or else the one key `id` is a prefix of;
// null when none or several match.
template <typename Map>
typename Map::mapped_type* FindByIdOrPrefix(Map& entries, const std::string& id) {
  if (id.empty()) return nullptr;
  if (auto exact = entries.find(id); exact != entries.end()) return &exact->second;
  typename Map::mapped_type* found = nullptr;
  for (auto& [key, value] : entries) {
    if (key.starts_with(id)) {
      if (found != nullptr) return nullptr;  // ambiguous
      found = &value;
    }
  }
  return found;
}

// Whether `labels` hold every key of `selector` with the same value.
bool LabelsMatch(const google::protobuf::Map<std::string, std::string>& selector,
                 const google::protobuf::Map<std::string, std::string>& labels);

}  // namespace crisp::crispd
