// Suite files as a user writes them (crisp validate / run): any text is
// loaded or refused with diagnostics, never a crash.
#include <cstdint>
#include <string>

#include "harness/scenario/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  // No fixture directory: a $fixture is refused rather than read.
  crisp::scenario::LoadResult result = crisp::scenario::LoadSuiteText(text, "fuzz.yaml", "");
  (void)result.ok();
  return 0;
}
