#include "harness/streaming/channel_session.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <algorithm>
#include <chrono>
#include <deque>

#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "common/http_url.h"
#include "common/strings.h"
#include "nlohmann/json.hpp"
#include "harness/client/proto_json.h"

namespace crisp::streaming {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

constexpr std::chrono::milliseconds kCloseGrace{1000};

// One session on one io_context and one thread: callbacks, no locks.
class ChannelSession {
 public:
  explicit ChannelSession(const ChannelSessionRequest& request)
      : request_(request),
        channel_count_(request.forward_ports.empty() ? 5 : 2 * static_cast<int>(request.forward_ports.size())),
        resolver_(io_),
        stream_(io_),
        deadline_(io_),
        input_timer_(io_) {}

  ChannelSessionResult Run() {
    std::optional<HttpUrl> url = ParseHttpUrl(request_.url, {"http", "ws"}, &result_.error);
    if (!url) return result_;
    url_ = *std::move(url);
    ArmDeadline(request_.timeout_ms);
    // Streaming URLs carry addresses; only a name needs the resolver, whose
    // lookup the deadline cannot interrupt.
    beast::error_code not_numeric;
    asio::ip::address address = asio::ip::make_address(url_.host, not_numeric);
    if (!not_numeric) {
      tcp::endpoint endpoint(address, static_cast<unsigned short>(std::stoi(url_.port)));
      stream_.next_layer().async_connect(endpoint, [this](beast::error_code ec) { Connected(ec); });
    } else {
      resolver_.async_resolve(url_.host, url_.port, [this](beast::error_code ec, tcp::resolver::results_type found) {
        if (ec) return Abort(crisp::StrCat("cannot resolve ", url_.host, ": ", ec.message()));
        asio::async_connect(stream_.next_layer(), found,
                            [this](beast::error_code connect_ec, const tcp::endpoint&) { Connected(connect_ec); });
      });
    }
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

  void Connected(beast::error_code ec) {
    if (ec) return Abort(crisp::StrCat("cannot connect to ", url_.host, ":", url_.port, ": ", ec.message()));
    Handshake();
  }

  void Handshake() {
    stream_.set_option(websocket::stream_base::decorator([this](websocket::request_type& upgrade) {
      upgrade.set(http::field::user_agent, "crisp");
      upgrade.set(http::field::sec_websocket_protocol, absl::StrJoin(request_.subprotocols, ", "));
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
      if (std::find(request_.subprotocols.begin(), request_.subprotocols.end(), result_.protocol) ==
          request_.subprotocols.end()) {
        // RFC 6455 4.1: a subprotocol the client did not offer (or none) fails the connection.
        return Abort(crisp::StrCat("the server chose subprotocol \"", result_.protocol, "\", crisp asked for ",
                                   absl::StrJoin(request_.subprotocols, " or ")));
      }
      stream_.binary(true);
      stream_.read_message_max(request_.max_message);
      Read();
      if (!request_.resize) return ScheduleInput();
      // One write at a time: the resize, then the input.
      resize_message_ = std::string(1, '\4') + nlohmann::json{{"Width", request_.resize->first},
                                                                {"Height", request_.resize->second}}
                                                       .dump();
      stream_.async_write(asio::buffer(resize_message_), [this](beast::error_code write_ec, size_t) {
        if (write_ec) {
          if (!stopping_ && result_.closed_by != "server") write_error_ = write_ec.message();
          return;
        }
        if (!stopping_ && !finished_) ScheduleInput();
      });
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
          // Input the server no longer took is no error once it closed properly.
          write_error_.clear();
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
    int channel = static_cast<unsigned char>(message[0]);
    if (channel >= channel_count_) {
      Fail(crisp::StrCat("the server wrote on channel ", channel, "; the stream has channels 0 to ",
                         channel_count_ - 1));
      return;
    }
    result_.byte_counts[channel] += message.size() - 1;
    std::string& into = result_.channels[channel];
    if (into.size() < request_.max_capture) into.append(message, 1, request_.max_capture - into.size());
  }

  bool UntilMet() const { return UntilMetOn(request_, result_); }

  void ScheduleInput() {
    if (!request_.input) return;
    if (request_.quiet_ms <= 0) return WriteInput();
    input_timer_.expires_after(std::chrono::milliseconds(request_.quiet_ms));
    input_timer_.async_wait([this](beast::error_code ec) {
      if (!ec && !stopping_ && !finished_) WriteInput();
    });
  }

  // The input on stdin, or on each port's data channel; then, if asked,
  // v5's close signal for stdin. One write at a time.
  void WriteInput() {
    result_.before_input = result_.channels;
    input_written_ = true;
    if (request_.forward_ports.empty()) {
      outgoing_.push_back(std::string(1, '\0') + *request_.input);
    } else {
      for (size_t i = 0; i < request_.forward_ports.size(); ++i) {
        outgoing_.push_back(std::string(1, static_cast<char>(2 * i)) + *request_.input);
      }
    }
    if (request_.close_stdin) {
      result_.stdin_closed = result_.protocol == kChannelSubprotocolV5;
      if (*result_.stdin_closed) outgoing_.push_back(std::string{static_cast<char>(255), '\0'});
    }
    WriteOutgoing();
  }

  void WriteOutgoing() {
    stream_.async_write(asio::buffer(outgoing_.front()), [this](beast::error_code ec, size_t) {
      if (ec) {
        if (!stopping_ && result_.closed_by != "server") write_error_ = ec.message();
        return;
      }
      outgoing_.pop_front();
      if (!outgoing_.empty() && !stopping_ && !finished_) WriteOutgoing();
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
    if (!write_error_.empty()) Fail(crisp::StrCat("writing the input: ", write_error_));
    if (result_.connected && result_.closed_by.empty()) result_.closed_by = "crisp";
    if (!input_written_) result_.before_input = result_.channels;
    deadline_.cancel();
    input_timer_.cancel();
    resolver_.cancel();
    beast::error_code ignored;
    stream_.next_layer().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.next_layer().close(ignored);
  }

  ChannelSessionRequest request_;
  const int channel_count_;
  ChannelSessionResult result_;
  HttpUrl url_;
  asio::io_context io_;
  tcp::resolver resolver_;
  websocket::stream<tcp::socket> stream_;
  asio::steady_timer deadline_;
  asio::steady_timer input_timer_;
  websocket::response_type response_;
  beast::flat_buffer buffer_;
  std::deque<std::string> outgoing_;
  std::string resize_message_;
  std::string write_error_;  // reported unless the server closed the stream properly
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
  if (request.transport == Transport::kSpdy) return RunSpdyChannelSession(request);
  ChannelSession session(request);
  return session.Run();
}

std::optional<int> ExitCodeOfStatus(const std::string& status) {
  // The runtime wrote this document: any member may be missing or of
  // another type, and none of that may throw.
  nlohmann::json parsed = nlohmann::json::parse(status, nullptr, /*allow_exceptions=*/false);
  auto text = [](const nlohmann::json& object, const char* key) -> std::string {
    if (!object.is_object() || !object.contains(key) || !object[key].is_string()) return "";
    return object[key].get<std::string>();
  };
  if (text(parsed, "status") == "Success") return 0;
  if (text(parsed, "reason") != "NonZeroExitCode" || !parsed.contains("details")) return std::nullopt;
  const nlohmann::json& details = parsed["details"];
  if (!details.is_object() || !details.contains("causes") || !details["causes"].is_array()) return std::nullopt;
  for (const nlohmann::json& cause : details["causes"]) {
    int code = 0;
    if (text(cause, "reason") == "ExitCode" && absl::SimpleAtoi(text(cause, "message"), &code)) return code;
  }
  return std::nullopt;
}

nlohmann::json RemoteCommandResult(const ChannelSessionResult& session, const std::string& until) {
  nlohmann::json result = Common(session);
  std::string status = Channel(session.channels, 3);
  std::optional<int> exit_code = ExitCodeOfStatus(status);
  std::string stdout_data = Channel(session.channels, 1);
  size_t found = until.empty() || session.closed_by != "crisp" ? std::string::npos : stdout_data.find(until);
  if (found != std::string::npos) {
    result["after_until"] = client::BytesToJson(stdout_data.substr(found + until.size()));
    stdout_data.resize(found + until.size());
  }
  result["stdout"] = client::BytesToJson(stdout_data);
  result["stderr"] = client::BytesToJson(Channel(session.channels, 2));
  result["status"] = client::BytesToJson(status);
  result["exit_code"] = exit_code ? nlohmann::json(*exit_code) : nlohmann::json(nullptr);
  result["before_stdin"] =
      client::BytesToJson(Channel(session.before_input, 1) + Channel(session.before_input, 2));
  result["stdin_closed"] = session.stdin_closed ? nlohmann::json(*session.stdin_closed) : nlohmann::json(nullptr);
  return result;
}

nlohmann::json PortForwardResult(const ChannelSessionResult& session, size_t ports) {
  nlohmann::json result = Common(session);
  // Each channel opens with its port, a little-endian uint16.
  auto take_port = [](std::string& channel) -> nlohmann::json {
    if (channel.size() < 2) return nullptr;
    int port = static_cast<unsigned char>(channel[0]) | (static_cast<unsigned char>(channel[1]) << 8);
    channel.erase(0, 2);
    return port;
  };
  nlohmann::json forwards = nlohmann::json::array();
  for (size_t i = 0; i < std::max<size_t>(ports, 1); ++i) {
    std::string data = Channel(session.channels, static_cast<int>(2 * i));
    std::string errors = Channel(session.channels, static_cast<int>(2 * i + 1));
    nlohmann::json forward;
    forward["port"] = session.port_prefixed ? take_port(data) : nlohmann::json(nullptr);
    forward["error_port"] = session.port_prefixed ? take_port(errors) : nlohmann::json(nullptr);
    forward["data"] = client::BytesToJson(data);
    forward["errors"] = client::BytesToJson(errors);
    forwards.push_back(std::move(forward));
  }
  for (const char* key : {"port", "error_port", "data", "errors"}) result[key] = forwards[0][key];
  result["forwards"] = std::move(forwards);
  return result;
}

bool UntilMetOn(const ChannelSessionRequest& request, const ChannelSessionResult& result) {
  if (request.until.empty() || request.until_channels.empty()) return false;
  for (int channel : request.until_channels) {
    auto found = result.channels.find(channel);
    if (found == result.channels.end() || found->second.find(request.until) == std::string::npos) return false;
  }
  return true;
}

}  // namespace crisp::streaming
