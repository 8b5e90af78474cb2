// Network byte order, as every SPDY field is written.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace crisp::spdy {

inline void PutU32(std::string& out, uint32_t value) {
  out.push_back(static_cast<char>(value >> 24));
  out.push_back(static_cast<char>(value >> 16));
  out.push_back(static_cast<char>(value >> 8));
  out.push_back(static_cast<char>(value));
}

// The 32 bits at `at` (the caller has checked there are four bytes).
inline uint32_t GetU32(std::string_view bytes, size_t at = 0) {
  auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(bytes[at + i])); };
  return b(0) << 24 | b(1) << 16 | b(2) << 8 | b(3);
}

}  // namespace crisp::spdy
