// The normaliser over a scenario of results.json, as crisp matrix and crisp
// diff run it on what runtimes answered: any JSON, never a crash.
#include <cstdint>

#include "harness/diff/normalise.h"
#include "nlohmann/json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nlohmann::json scenario =
      nlohmann::json::parse(reinterpret_cast<const char*>(data), reinterpret_cast<const char*>(data) + size, nullptr,
                            /*allow_exceptions=*/false);
  if (scenario.is_discarded()) return 0;
  static const crisp::diff::Normaliser normaliser;
  (void)normaliser.Normalise(scenario);
  return 0;
}
