#include "reference_runtime/server/quirks.h"

#include "common/strings.h"

namespace crisp::crispd {
namespace {

bool Quirks::*Member(std::string_view name) {
  if (name == "no-log-directory") return &Quirks::no_log_directory;
  if (name == "scheme-relative-urls") return &Quirks::scheme_relative_urls;
  if (name == "unknown-on-missing") return &Quirks::unknown_on_missing;
  return nullptr;
}

}  // namespace

const std::vector<std::pair<std::string_view, std::string_view>>& QuirkNames() {
  static const std::vector<std::pair<std::string_view, std::string_view>> names = {
      {"no-log-directory", "CreateContainer does not make the log file's directory (the kubelet does)"},
      {"scheme-relative-urls", "Exec, Attach and PortForward answer //HOST:PORT/... URLs"},
      {"unknown-on-missing", "Stop and Remove of an unknown container or pod answer Unknown, not OK"},
  };
  return names;
}

absl::Status AddQuirks(std::string_view names, Quirks& quirks) {
  while (!names.empty()) {
    size_t comma = names.find(',');
    std::string_view name = names.substr(0, comma);
    names = comma == std::string_view::npos ? std::string_view() : names.substr(comma + 1);
    if (name.empty()) continue;
    bool Quirks::*member = Member(name);
    if (member == nullptr) {
      std::string known;
      for (const auto& [known_name, what] : QuirkNames()) crisp::StrAppend(&known, known.empty() ? "" : ", ", known_name);
      return absl::InvalidArgumentError(crisp::StrCat("unknown quirk \"", name, "\"; known: ", known));
    }
    quirks.*member = true;
  }
  return absl::OkStatus();
}

std::string QuirkList(const Quirks& quirks) {
  std::string on;
  for (const auto& [name, what] : QuirkNames()) {
    if (quirks.*Member(name)) crisp::StrAppend(&on, on.empty() ? "" : ",", name);
  }
  return on;
}

}  // namespace crisp::crispd
