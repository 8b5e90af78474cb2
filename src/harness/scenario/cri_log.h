// The CRI container log format: one record per line,
//   <RFC 3339 time> <stdout|stderr> <P|F>[:more tags] <message>
// where P marks a partial record that the next record of the same stream
// continues, and F ends one.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "nlohmann/json.hpp"

namespace crisp::scenario {

struct LogEntry {
  std::string time;    // of the record that completed the entry
  std::string stream;  // "stdout" or "stderr"
  std::string message; // partial records joined, without the newline
};

struct ParsedLog {
  std::vector<LogEntry> entries;
  // "line N: why" for each line that is not a CRI log record.
  std::vector<std::string> malformed;
  // Partial records never completed by an F record, per stream.
  std::vector<LogEntry> unterminated;
};

ParsedLog ParseCriLog(std::string_view content);

// The observation a log step checks: {"entries": [...], "stdout": "...",
// "stderr": "...", "text": "...", "malformed": [...], "lines": N}; the
// texts join entries with "\n".
nlohmann::json LogObservation(const ParsedLog& log);

}  // namespace crisp::scenario
