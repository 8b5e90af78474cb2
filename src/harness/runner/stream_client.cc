#include "harness/runner/stream_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <cstdint>

#include "absl/strings/escaping.h"
#include "common/strings.h"
#include "harness/client/proto_json.h"

namespace crisp::runner {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

constexpr size_t kMaxCapture = 1 << 20;  // per channel, and per message
constexpr std::chrono::milliseconds kCloseGrace{1000};

struct Url {
  std::string host;  // without brackets
  std::string port;
  std::string target;
};

// "http://host:port/path?query" -> parts; an error text when it is not one
// crisp can dial.
std::optional<Url> ParseUrl(const std::string& url, std::string* error) {
  size_t scheme_end = url.find("://");
  std::string scheme = scheme_end == std::string::npos ? "" : url.substr(0, scheme_end);
  if (scheme == "https" || scheme == "wss") {
    *error = crisp::StrCat("streaming over TLS (", url, ") is not supported by crisp yet");
    return std::nullopt;
  }
  if (scheme != "http" && scheme != "ws") {
    *error = crisp::StrCat("not an http:// or ws:// URL: \"", url, "\"");
    return std::nullopt;
  }
  std::string rest = url.substr(scheme_end + 3);
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  Url parsed;
  parsed.target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (authority.starts_with('[')) {  // [v6]:port
    size_t close = authority.find(']');
    if (close == std::string::npos) {
      *error = crisp::StrCat("unbalanced [ in \"", url, "\"");
      return std::nullopt;
    }
    parsed.host = authority.substr(1, close - 1);
    if (authority.size() > close + 1 && authority[close + 1] == ':') parsed.port = authority.substr(close + 2);
  } else {
    size_t colon = authority.rfind(':');
    parsed.host = authority.substr(0, colon);
    if (colon != std::string::npos) parsed.port = authority.substr(colon + 1);
  }
  if (parsed.port.empty()) parsed.port = "80";
  if (parsed.host.empty()) {
    *error = crisp::StrCat("no host in \"", url, "\"");
    return std::nullopt;
  }
  return parsed;
}

// One session on one io_context and one thread: callbacks, no locks.
class ChannelSession {
 public:
  explicit ChannelSession(const ChannelSessionRequest& request)
      : request_(request), resolver_(io_), stream_(io_), deadline_(io_), input_timer_(io_) {}

  ChannelSessionResult Run() {
    std::optional<Url> url = ParseUrl(request_.url, &result_.error);
    if (!url) return result_;
    url_ = *url;
    ArmDeadline(request_.timeout_ms);
    resolver_.async_resolve(url_.host, url_.port, [this](beast::error_code ec, tcp::resolver::results_type found) {
      if (ec) return Abort(crisp::StrCat("cannot resolve ", url_.host, ": ", ec.message()));
      asio::async_connect(stream_.next_layer(), found, [this](beast::error_code connect_ec, const tcp::endpoint&) {
        if (connect_ec) {
          return Abort(crisp::StrCat("cannot connect to ", url_.host, ":", url_.port, ": ", connect_ec.message()));
        }
        Handshake();
      });
    });
    io_.run();
    return result_;
  }

 private:
  // Ends the session `ms` from now; re-arming replaces the earlier deadline.
  void ArmDeadline(int ms) {
    deadline_.expires_after(std::chrono::milliseconds(ms));
    deadline_.async_wait([this](beast::error_code ec) {
      if (ec || finished_) return;
      if (!stopping_) {
        result_.timed_out = true;
        if (result_.connected) result_.closed_by = "crisp";
        Fail(crisp::StrCat("timed out after ", request_.timeout_ms, " ms"));
      }
      Finish();
    });
  }

  void Handshake() {
    std::string subprotocol = request_.subprotocol;
    stream_.set_option(websocket::stream_base::decorator([subprotocol](websocket::request_type& upgrade) {
      upgrade.set(http::field::user_agent, "crisp");
      if (!subprotocol.empty()) upgrade.set(http::field::sec_websocket_protocol, subprotocol);
    }));
    std::string host = url_.host.find(':') == std::string::npos ? url_.host : crisp::StrCat("[", url_.host, "]");
    stream_.async_handshake(response_, crisp::StrCat(host, ":", url_.port), url_.target, [this](beast::error_code ec) {
      if (ec) {
        std::string answer = response_.result_int() == 0
                                 ? ec.message()
                                 : crisp::StrCat("HTTP ", response_.result_int(), " ", std::string(response_.reason()),
                                                 response_.body().empty() ? "" : ": ", response_.body().substr(0, 200));
        return Abort(crisp::StrCat("the streaming server did not upgrade to WebSocket: ", answer));
      }
      result_.connected = true;
      result_.protocol = std::string(response_[http::field::sec_websocket_protocol]);
      stream_.binary(true);
      stream_.read_message_max(kMaxCapture);
      Read();
      ScheduleInput();
    });
  }

  void Read() {
    stream_.async_read(buffer_, [this](beast::error_code ec, size_t) {
      if (ec) {
        // A close frame came, even if tearing down the TCP connection after
        // it failed (the server may have gone already).
        bool close_frame = ec == websocket::error::closed || stream_.reason().code != websocket::close_code::none;
        if (close_frame) {
          if (result_.closed_by.empty()) result_.closed_by = "server";
        } else if (!stopping_ && !finished_) {
          if (ec == asio::error::eof || ec == asio::error::connection_reset) {
            result_.closed_by = "server";
            Fail(crisp::StrCat("the server dropped the connection without a WebSocket close (", ec.message(), ")"));
          } else {
            Fail(crisp::StrCat("reading the stream: ", ec.message()));
          }
        }
        return Finish();
      }
      TakeMessage();
      if (UntilMet()) return Close();
      Read();
    });
  }

  void TakeMessage() {
    std::string message = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    if (message.empty()) return;
    bool base64 = result_.protocol.find("base64") != std::string::npos;
    int channel = base64 ? message[0] - '0' : static_cast<unsigned char>(message[0]);
    std::string payload = message.substr(1);
    if (base64) {
      std::string decoded;
      if (!absl::Base64Unescape(payload, &decoded)) {
        Fail(crisp::StrCat("channel ", channel, " carried text that is not base64"));
        return;
      }
      payload = std::move(decoded);
    }
    std::string& into = result_.channels[channel];
    if (into.size() < kMaxCapture) into.append(payload, 0, kMaxCapture - into.size());
  }

  bool UntilMet() const {
    if (request_.until.empty()) return false;
    auto found = result_.channels.find(request_.until_channel);
    return found != result_.channels.end() && found->second.find(request_.until) != std::string::npos;
  }

  void ScheduleInput() {
    if (!request_.input) return;
    if (request_.quiet_ms <= 0) return WriteInput();
    input_timer_.expires_after(std::chrono::milliseconds(request_.quiet_ms));
    input_timer_.async_wait([this](beast::error_code ec) {
      if (!ec && !stopping_ && !finished_) WriteInput();
    });
  }

  void WriteInput() {
    result_.before_input = result_.channels;
    input_written_ = true;
    outgoing_ = std::string(1, static_cast<char>(request_.input_channel)) + *request_.input;
    stream_.async_write(asio::buffer(outgoing_), [this](beast::error_code ec, size_t) {
      if (ec && !stopping_ && !finished_) Fail(crisp::StrCat("writing the input: ", ec.message()));
    });
  }

  // What was waited for came: end the session from this side.
  void Close() {
    stopping_ = true;
    result_.closed_by = "crisp";
    // A server that does not answer the close frame gets a second, not the
    // rest of the session's time.
    if (deadline_.expiry() - std::chrono::steady_clock::now() > kCloseGrace) {
      ArmDeadline(static_cast<int>(kCloseGrace.count()));
    }
    stream_.async_close(websocket::close_code::normal, [this](beast::error_code) { Finish(); });
  }

  void Fail(std::string message) {
    if (result_.error.empty()) result_.error = std::move(message);
  }

  void Abort(std::string message) {
    Fail(std::move(message));
    Finish();
  }

  void Finish() {
    if (finished_) return;
    finished_ = true;
    if (!input_written_) result_.before_input = result_.channels;
    deadline_.cancel();
    input_timer_.cancel();
    resolver_.cancel();
    beast::error_code ignored;
    stream_.next_layer().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.next_layer().close(ignored);
  }

  ChannelSessionRequest request_;
  ChannelSessionResult result_;
  Url url_;
  asio::io_context io_;
  tcp::resolver resolver_;
  websocket::stream<tcp::socket> stream_;
  asio::steady_timer deadline_;
  asio::steady_timer input_timer_;
  websocket::response_type response_;
  beast::flat_buffer buffer_;
  std::string outgoing_;
  bool input_written_ = false;
  bool stopping_ = false;  // crisp is closing; errors from here on are its own doing
  bool finished_ = false;
};

std::string Channel(const std::map<int, std::string>& channels, int channel) {
  auto found = channels.find(channel);
  return found == channels.end() ? "" : found->second;
}

nlohmann::json Common(const ChannelSessionResult& session) {
  return {{"connected", session.connected},
          {"protocol", session.protocol},
          {"closed_by", session.closed_by},
          {"error", session.error}};
}

}  // namespace

ChannelSessionResult RunChannelSession(const ChannelSessionRequest& request) {
  ChannelSession session(request);
  return session.Run();
}

std::optional<int> ExitCodeOfStatus(const std::string& status) {
  nlohmann::json parsed = nlohmann::json::parse(status, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) return std::nullopt;
  if (parsed.value("status", "") == "Success") return 0;
  if (parsed.value("reason", "") != "NonZeroExitCode") return std::nullopt;
  const nlohmann::json causes = parsed.value("details", nlohmann::json::object()).value("causes", nlohmann::json::array());
  for (const nlohmann::json& cause : causes) {
    if (!cause.is_object() || cause.value("reason", "") != "ExitCode") continue;
    std::string text = cause.value("message", "");
    char* end = nullptr;
    long code = std::strtol(text.c_str(), &end, 10);
    if (!text.empty() && *end == '\0') return static_cast<int>(code);
  }
  return std::nullopt;
}

nlohmann::json RemoteCommandResult(const ChannelSessionResult& session) {
  nlohmann::json result = Common(session);
  std::string status = Channel(session.channels, 3);
  std::optional<int> exit_code = ExitCodeOfStatus(status);
  result["stdout"] = client::BytesToJson(Channel(session.channels, 1));
  result["stderr"] = client::BytesToJson(Channel(session.channels, 2));
  result["status"] = client::BytesToJson(status);
  result["exit_code"] = exit_code ? nlohmann::json(*exit_code) : nlohmann::json(nullptr);
  result["before_stdin"] =
      client::BytesToJson(Channel(session.before_input, 1) + Channel(session.before_input, 2));
  return result;
}

nlohmann::json PortForwardResult(const ChannelSessionResult& session) {
  nlohmann::json result = Common(session);
  std::string data = Channel(session.channels, 0);
  std::string errors = Channel(session.channels, 1);
  nlohmann::json port = nullptr;
  if (data.size() >= 2) {
    port = static_cast<unsigned char>(data[0]) | (static_cast<unsigned char>(data[1]) << 8);
    data.erase(0, 2);
  }
  if (errors.size() >= 2) errors.erase(0, 2);
  result["port"] = port;
  result["data"] = client::BytesToJson(data);
  result["errors"] = client::BytesToJson(errors);
  return result;
}

}  // namespace crisp::runner
