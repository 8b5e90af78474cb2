// results.json as crisp diff and crisp report read it back: any JSON is a
// run or a refusal naming the field; any bytes are refused as JSON.
#include <cstdint>
#include <string>

#include "harness/report/reports.h"
#include "nlohmann/json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nlohmann::json document =
      nlohmann::json::parse(reinterpret_cast<const char*>(data), reinterpret_cast<const char*>(data) + size, nullptr,
                            /*allow_exceptions=*/false);
  if (document.is_discarded()) return 0;
  auto run = crisp::report::RunFromResultsJson(document);
  if (run.ok()) (void)crisp::report::ResultsJson(*run);  // what was read can be written again
  return 0;
}
