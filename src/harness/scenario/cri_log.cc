#include "harness/scenario/cri_log.h"

#include <map>
#include <regex>

#include "common/strings.h"

namespace crisp::scenario {
namespace {

// RFC 3339 with optional fraction and a Z or numeric offset, as kubelet's
// parser accepts (containerd trims zeros; conmon writes 9 digits and +00:00).
const std::regex& TimeFormat() {
  static const std::regex format(
      R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$)");
  return format;
}

}  // namespace

ParsedLog ParseCriLog(std::string_view content) {
  ParsedLog log;
  std::map<std::string, LogEntry> pending;  // by stream
  size_t line_number = 0;
  size_t start = 0;
  while (start < content.size()) {
    size_t end = content.find('\n', start);
    if (end == std::string_view::npos) end = content.size();
    std::string_view line = content.substr(start, end - start);
    start = end + 1;
    ++line_number;
    if (line.empty()) continue;

    size_t first = line.find(' ');
    size_t second = first == std::string_view::npos ? first : line.find(' ', first + 1);
    if (second == std::string_view::npos) {
      log.malformed.push_back(crisp::StrCat("line ", line_number, ": fewer than three fields"));
      continue;
    }
    size_t third = line.find(' ', second + 1);
    std::string time(line.substr(0, first));
    std::string stream(line.substr(first + 1, second - first - 1));
    std::string_view tags = line.substr(second + 1, (third == std::string_view::npos ? line.size() : third) - second - 1);
    std::string_view message = third == std::string_view::npos ? "" : line.substr(third + 1);

    if (!std::regex_match(time, TimeFormat())) {
      log.malformed.push_back(crisp::StrCat("line ", line_number, ": \"", time, "\" is not an RFC 3339 time"));
      continue;
    }
    if (stream != "stdout" && stream != "stderr") {
      log.malformed.push_back(crisp::StrCat("line ", line_number, ": stream \"", stream, "\" is neither stdout nor stderr"));
      continue;
    }
    std::string_view tag = tags.substr(0, tags.find(':'));  // extra tags are ignored
    if (tag != "P" && tag != "F") {
      log.malformed.push_back(crisp::StrCat("line ", line_number, ": tag \"", tags, "\" is neither P nor F"));
      continue;
    }
    LogEntry& entry = pending[stream];
    entry.stream = stream;
    entry.time = time;
    entry.message.append(message);
    if (tag == "F") {
      log.entries.push_back(std::move(entry));
      pending.erase(stream);
    }
  }
  for (auto& [stream, entry] : pending) log.unterminated.push_back(std::move(entry));
  return log;
}

nlohmann::json LogObservation(const ParsedLog& log) {
  nlohmann::json entries = nlohmann::json::array();
  std::map<std::string, std::string> by_stream = {{"stdout", ""}, {"stderr", ""}};
  std::string text;
  for (const LogEntry& entry : log.entries) {
    entries.push_back({{"time", entry.time}, {"stream", entry.stream}, {"message", entry.message}});
    by_stream[entry.stream] += entry.message + "\n";
    text += entry.message + "\n";
  }
  nlohmann::json unterminated = nlohmann::json::array();
  for (const LogEntry& entry : log.unterminated) {
    unterminated.push_back({{"stream", entry.stream}, {"message", entry.message}});
  }
  return {{"entries", entries},     {"stdout", by_stream["stdout"]},
          {"stderr", by_stream["stderr"]}, {"text", text},
          {"lines", log.entries.size()},   {"malformed", log.malformed},
          {"unterminated", unterminated}};
}

}  // namespace crisp::scenario
