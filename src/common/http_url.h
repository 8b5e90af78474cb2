// The http:// (and ws://) URLs crisp dials: runtimes' streaming URLs and
// the web servers scenarios reach.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace crisp {

struct HttpUrl {
  std::string host;    // without the brackets of an IPv6 literal
  std::string port;    // "80" when the URL names none
  std::string target;  // path and query, "/" at least
};

// Splits "SCHEME://host[:port][/target]" for one of `schemes`. On failure,
// nullopt and `error` says why (TLS schemes: not supported yet).
std::optional<HttpUrl> ParseHttpUrl(const std::string& url, std::initializer_list<std::string_view> schemes,
                                    std::string* error);

}  // namespace crisp
