#include "reference_runtime/state/ids.h"

#include <mutex>
#include <random>

namespace crisp::crispd {

std::string NewId() {
  static std::mutex mutex;
  static std::mt19937_64 engine(std::random_device{}());
  std::lock_guard lock(mutex);
  std::string id;
  for (int i = 0; i < 64; ++i) id += "0123456789abcdef"[engine() % 16];
  return id;
}

bool LabelsMatch(const google::protobuf::Map<std::string, std::string>& selector,
                 const google::protobuf::Map<std::string, std::string>& labels) {
  for (const auto& [key, value] : selector) {
    auto found = labels.find(key);
    if (found == labels.end() || found->second != value) return false;
  }
  return true;
}

}  // namespace crisp::crispd
