// Human-readable quantities for tables and progress lines.
#pragma once

#include <cstdint>
#include <string>

namespace crisp {

// 0 -> "0 B", 1536 -> "1.5 KiB", 5 * 2^30 -> "5.0 GiB". Binary units.
std::string FormatBytes(uint64_t bytes);

}  // namespace crisp
