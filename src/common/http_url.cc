#include "common/http_url.h"

#include <algorithm>

#include "common/strings.h"

namespace crisp {

std::optional<HttpUrl> ParseHttpUrl(const std::string& url, std::initializer_list<std::string_view> schemes,
                                    std::string* error) {
  size_t scheme_end = url.find("://");
  std::string_view scheme = scheme_end == std::string::npos ? "" : std::string_view(url).substr(0, scheme_end);
  std::string names;
  for (std::string_view name : schemes) crisp::StrAppend(&names, names.empty() ? "" : " or ", name, "://");
  if (std::find(schemes.begin(), schemes.end(), scheme) == schemes.end()) {
    *error = scheme == "https" || scheme == "wss"
                 ? crisp::StrCat("TLS (", url, ") is not supported by crisp yet")
                 : crisp::StrCat("not an ", names, " URL: \"", url, "\"");
    return std::nullopt;
  }
  std::string rest = url.substr(scheme_end + 3);
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  HttpUrl parsed;
  parsed.target = slash == std::string::npos ? "/" : rest.substr(slash);
  std::string port_part;
  if (authority.starts_with('[')) {  // [v6]:port
    size_t close = authority.find(']');
    if (close == std::string::npos) {
      *error = crisp::StrCat("unbalanced [ in \"", url, "\"");
      return std::nullopt;
    }
    parsed.host = authority.substr(1, close - 1);
    port_part = authority.substr(close + 1);
  } else {
    size_t colon = authority.find(':');
    parsed.host = authority.substr(0, colon);
    if (colon != std::string::npos) port_part = authority.substr(colon);
  }
  if (!port_part.empty()) {
    parsed.port = port_part.substr(1);
    bool digits = port_part[0] == ':' && !parsed.port.empty() && parsed.port.size() <= 5 &&
                  std::all_of(parsed.port.begin(), parsed.port.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits || std::stoi(parsed.port) > 65535) {
      *error = crisp::StrCat("bad port in \"", url, "\"");
      return std::nullopt;
    }
  }
  if (parsed.port.empty()) parsed.port = "80";
  if (parsed.host.empty()) {
    *error = crisp::StrCat("no host in \"", url, "\"");
    return std::nullopt;
  }
  return parsed;
}

}  // namespace crisp
