// Image references as a request or a manifest names them (crispd): parsing
// never crashes, and what parses has a canonical form that parses back to
// itself.
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string_view>

#include "reference_runtime/image/reference.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = crisp::crispd::ParseImageReference(text);
  (void)crisp::crispd::IsDigest(text);
  if (!parsed.ok()) return 0;
  const std::string canonical = parsed->ToString();
  auto again = crisp::crispd::ParseImageReference(canonical);
  if (!again.ok() || again->ToString() != canonical) {
    std::cerr << "\"" << text << "\" parsed to \"" << canonical << "\", which does not parse back to itself\n";
    std::abort();
  }
  return 0;
}
