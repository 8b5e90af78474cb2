// The SPDY/3.1 client of a CRI streaming URL, as kubectl, crictl and the
// kubelet's proxy speak it (../shared/research/spdy.md §1, §5): an HTTP/1.1
// upgrade offering the channel protocols, then one SPDY stream per channel,
// each named by its streamtype header, opened by the client in the order
// client-go uses. One thread, one socket, poll() with the session deadline.
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/http_url.h"
#include "common/strings.h"
#include "harness/streaming/channel_session.h"
#include "nlohmann/json.hpp"
#include "streaming_protocol/spdy_frame.h"
#include "streaming_protocol/spdy_headers.h"

namespace crisp::streaming {
namespace {

using Clock = std::chrono::steady_clock;

// The channel each streamtype carries, as in the WebSocket protocol.
constexpr std::pair<const char*, int> kStreamTypes[] = {
    {"error", 3}, {"stdin", 0}, {"stdout", 1}, {"stderr", 2}, {"resize", 4}};

int ConnectTo(const HttpUrl& url, std::string* error) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(url.host.c_str(), url.port.c_str(), &hints, &found); rc != 0) {
    *error = crisp::StrCat("cannot resolve ", url.host, ": ", gai_strerror(rc));
    return -1;
  }
  int fd = -1;
  for (addrinfo* at = found; at != nullptr && fd < 0; at = at->ai_next) {
    fd = socket(at->ai_family, at->ai_socktype | SOCK_CLOEXEC, at->ai_protocol);
    if (fd >= 0 && connect(fd, at->ai_addr, at->ai_addrlen) != 0) {
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  if (fd < 0) *error = crisp::StrCat("cannot connect to ", url.host, ":", url.port, ": ", std::strerror(errno));
  return fd;
}

class SpdyClientSession {
 public:
  explicit SpdyClientSession(const ChannelSessionRequest& request)
      : request_(request), deadline_(Clock::now() + std::chrono::milliseconds(request.timeout_ms)) {}
  ~SpdyClientSession() {
    if (fd_ >= 0) close(fd_);
  }

  ChannelSessionResult Run() {
    forward_ = !request_.forward_ports.empty();
    result_.port_prefixed = !forward_;
    std::optional<HttpUrl> url = ParseHttpUrl(request_.url, {"http"}, &result_.error);
    if (!url) return result_;
    fd_ = ConnectTo(*url, &result_.error);
    if (fd_ < 0) return result_;
    if (!Upgrade(*url)) return Done();
    OpenStreams();
    Serve();
    return Done();
  }

 private:
  ChannelSessionResult Done() {
    if (!input_written_) result_.before_input = result_.channels;
    if (result_.connected && result_.closed_by.empty()) result_.closed_by = "crisp";
    return result_;
  }

  int RemainingMs(Clock::time_point until) const {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
    return static_cast<int>(std::max<int64_t>(left, 0));
  }

  bool SendAll(const std::string& bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
      ssize_t n = send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) {
        if (result_.error.empty()) result_.error = crisp::StrCat("writing to the stream: ", std::strerror(errno));
        return false;
      }
      sent += static_cast<size_t>(n);
    }
    return true;
  }

  // Reads what there is within `ms`; false at the end of the connection (or
  // an error), true otherwise (also when nothing came in time).
  bool ReadSome(int ms, std::string* into) {
    pollfd ready{fd_, POLLIN, 0};
    if (poll(&ready, 1, ms) <= 0) return true;
    char buffer[32 * 1024];
    ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
    if (n <= 0) return false;
    into->append(buffer, static_cast<size_t>(n));
    return true;
  }

  // Port forwarding has one protocol; exec and attach, those asked for.
  std::vector<std::string> Offered() const {
    if (forward_) return {"portforward.k8s.io"};
    return request_.subprotocols;
  }

  // The HTTP/1.1 request, then the 101; what follows it is SPDY already.
  bool Upgrade(const HttpUrl& url) {
    std::string host = url.host.find(':') == std::string::npos ? url.host : crisp::StrCat("[", url.host, "]");
    // One header per protocol offered, the preferred first, as client-go sends them.
    std::string offers;
    for (const std::string& protocol : Offered()) crisp::StrAppend(&offers, "X-Stream-Protocol-Version: ", protocol, "\r\n");
    std::string upgrade = crisp::StrCat("POST ", url.target, " HTTP/1.1\r\nHost: ", host, ":", url.port,
                                        "\r\nUser-Agent: crisp\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n",
                                        offers, "Content-Length: 0\r\n\r\n");
    if (!SendAll(upgrade)) return false;
    std::string response;
    size_t end = std::string::npos;
    while ((end = response.find("\r\n\r\n")) == std::string::npos) {
      if (response.size() > 16 * 1024 || RemainingMs(deadline_) == 0 || !ReadSome(RemainingMs(deadline_), &response)) {
        result_.error = crisp::StrCat("the streaming server did not answer the SPDY upgrade",
                                      response.empty() ? "" : crisp::StrCat(": ", response.substr(0, 200)));
        result_.timed_out = RemainingMs(deadline_) == 0;
        return false;
      }
    }
    std::vector<std::string> lines = absl::StrSplit(response.substr(0, end), "\r\n");
    std::vector<std::string> status = absl::StrSplit(lines[0], absl::MaxSplits(' ', 2));
    int code = 0;
    if (status.size() < 2 || !absl::SimpleAtoi(status[1], &code) || code != 101) {
      result_.error = crisp::StrCat("the streaming server did not upgrade to SPDY/3.1: ", lines[0],
                                    end + 4 < response.size() ? crisp::StrCat(": ", response.substr(end + 4, 200)) : "");
      return false;
    }
    bool spdy = false;
    for (size_t i = 1; i < lines.size(); ++i) {
      size_t colon = lines[i].find(':');
      if (colon == std::string::npos) continue;
      std::string name = absl::AsciiStrToLower(lines[i].substr(0, colon));
      std::string value(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
      if (name == "upgrade") spdy = absl::StrContains(absl::AsciiStrToLower(value), "spdy/3.1");
      if (name == "x-stream-protocol-version") result_.protocol = value;
    }
    if (!spdy) {
      result_.error = "the server's 101 does not upgrade to SPDY/3.1";
      return false;
    }
    result_.connected = true;
    const std::vector<std::string> offered = Offered();
    if (std::find(offered.begin(), offered.end(), result_.protocol) == offered.end()) {
      result_.error = crisp::StrCat("the server chose stream protocol \"", result_.protocol, "\", crisp offered ",
                                    absl::StrJoin(offered, " or "));
      return false;
    }
    // Bytes behind the 101 are frames already.
    if (absl::Status fed = decoder_.Feed(std::string_view(response).substr(end + 4)); !fed.ok()) {
      result_.error = crisp::StrCat("the server's SPDY: ", fed.message());
      return false;
    }
    return true;
  }

  // error, then stdin, stdout, stderr (no tty), resize (tty): client-go's
  // order. A port forward, for the i-th port: error (half-closed at once:
  // the client never writes there), then data, both naming the port and
  // request i, as client-go does for each local connection.
  void OpenStreams() {
    if (forward_) {
      for (size_t i = 0; i < request_.forward_ports.size(); ++i) {
        const std::string port = std::to_string(request_.forward_ports[i]);
        for (const char* type : {"error", "data"}) {
          absl::StatusOr<std::string> block =
              compressor_.Compress({{"streamtype", type}, {"port", port}, {"requestid", std::to_string(i)}});
          if (!block.ok() || !SendAll(spdy::EncodeSynStream(next_id_, *block, false))) return;
          const bool error = std::string_view(type) == "error";
          const int channel = static_cast<int>(2 * i) + (error ? 1 : 0);
          if (error && !SendAll(spdy::EncodeData(next_id_, "", true))) return;
          channel_of_[next_id_] = channel;
          id_of_[channel] = next_id_;
          next_id_ += 2;
        }
      }
      return;
    }
    const RemoteCommandStreams& wanted = request_.streams;
    for (const auto& [type, channel] : kStreamTypes) {
      bool open = channel == 3 || (channel == 0 && wanted.stdin) || (channel == 1 && wanted.stdout) ||
                  (channel == 2 && wanted.stderr && !wanted.tty) || (channel == 4 && wanted.tty);
      if (!open) continue;
      absl::StatusOr<std::string> block = compressor_.Compress({{"streamtype", type}});
      if (!block.ok() || !SendAll(spdy::EncodeSynStream(next_id_, *block, false))) return;
      channel_of_[next_id_] = channel;
      id_of_[channel] = next_id_;
      next_id_ += 2;
    }
  }

  void Serve() {
    std::optional<Clock::time_point> input_at;
    bool resized = !request_.resize;
    while (true) {
      if (!result_.error.empty()) return;
      if (RemainingMs(deadline_) == 0) {
        result_.timed_out = true;
        result_.error = crisp::StrCat("timed out after ", request_.timeout_ms, " ms");
        return;
      }
      // Every stream replied to: the session is set up, as client-go waits for.
      const bool ready = replied_ == channel_of_.size();
      if (ready && !resized) {
        resized = true;
        auto found = id_of_.find(4);
        if (found != id_of_.end()) {
          std::string size =
              nlohmann::json{{"Width", request_.resize->first}, {"Height", request_.resize->second}}.dump() + "\n";
          if (!SendAll(spdy::EncodeData(found->second, size, false))) return;
        }
      }
      if (ready && request_.input && !input_at) input_at = Clock::now() + std::chrono::milliseconds(request_.quiet_ms);
      if (input_at && !input_written_ && Clock::now() >= *input_at) WriteInput();
      int wait = RemainingMs(deadline_);
      if (input_at && !input_written_) wait = std::min(wait, RemainingMs(*input_at));
      std::string bytes;
      if (!ReadSome(wait, &bytes)) {
        result_.closed_by = "server";
        return;
      }
      if (absl::Status fed = decoder_.Feed(bytes); !fed.ok()) {
        result_.error = crisp::StrCat("the server's SPDY: ", fed.message());
        return;
      }
      while (std::optional<spdy::Frame> frame = decoder_.Next()) {
        if (!Handle(*frame)) return;
      }
      if (UntilMet()) {
        SendAll(spdy::EncodeGoAway(0, spdy::GoAwayStatus::kOk));
        result_.closed_by = "crisp";
        return;
      }
    }
  }

  // The input on stdin, or on each port's data stream; then, if asked,
  // FIN on stdin.
  void WriteInput() {
    input_written_ = true;
    result_.before_input = result_.channels;
    std::vector<int> channels = {0};
    if (forward_) {
      channels.clear();
      for (size_t i = 0; i < request_.forward_ports.size(); ++i) channels.push_back(static_cast<int>(2 * i));
    }
    for (int channel : channels) {
      auto found = id_of_.find(channel);
      if (found == id_of_.end()) {
        result_.error = "input to write, but the request has no stdin";
        return;
      }
      if (!SendAll(spdy::EncodeData(found->second, *request_.input, false))) return;
    }
    if (request_.close_stdin && !forward_) {
      result_.stdin_closed = SendAll(spdy::EncodeData(id_of_[0], "", true));
    }
  }

  bool UntilMet() const { return UntilMetOn(request_, result_); }

  // One frame from the server; false ends the session.
  bool Handle(const spdy::Frame& frame) {
    if (!frame.control) {
      auto channel = channel_of_.find(frame.stream_id);
      if (channel == channel_of_.end()) return true;  // not a stream of ours: dropped, as spdystream does
      result_.byte_counts[channel->second] += frame.data.size();
      std::string& into = result_.channels[channel->second];
      if (into.size() < request_.max_capture) into.append(frame.data, 0, request_.max_capture - into.size());
      return true;
    }
    switch (frame.type) {
      case spdy::ControlType::kSynReply:
      case spdy::ControlType::kHeaders: {
        // Inflated even when unused: the server's zlib stream must stay in step.
        absl::StatusOr<spdy::Headers> headers = decompressor_.Decompress(frame.data);
        if (!headers.ok()) {
          result_.error = crisp::StrCat("the server's header block: ", headers.status().message());
          return false;
        }
        if (frame.type == spdy::ControlType::kSynReply && channel_of_.count(frame.stream_id)) ++replied_;
        return true;
      }
      case spdy::ControlType::kSynStream:
        // The server opens no streams in this protocol.
        SendAll(spdy::EncodeRstStream(frame.stream_id, spdy::RstStatus::kRefusedStream));
        return true;
      case spdy::ControlType::kPing:
        if (frame.ping_id % 2 == 0) SendAll(spdy::EncodePing(frame.ping_id));  // the server's: echoed
        return true;
      case spdy::ControlType::kGoAway:
        result_.closed_by = "server";
        return true;  // what was sent before it is still to be read
      default:
        return true;  // RST_STREAM (CANCEL after the data is the server's way to end), SETTINGS, WINDOW_UPDATE
    }
  }

  const ChannelSessionRequest& request_;
  ChannelSessionResult result_;
  Clock::time_point deadline_;
  int fd_ = -1;
  spdy::FrameDecoder decoder_;
  spdy::HeaderCompressor compressor_;
  spdy::HeaderDecompressor decompressor_;
  uint32_t next_id_ = 1;
  std::map<uint32_t, int> channel_of_;  // stream id -> channel
  std::map<int, uint32_t> id_of_;       // channel -> stream id
  size_t replied_ = 0;
  bool input_written_ = false;
  bool forward_ = false;
};

}  // namespace

ChannelSessionResult RunSpdyChannelSession(const ChannelSessionRequest& request) {
  return SpdyClientSession(request).Run();
}

}  // namespace crisp::streaming
