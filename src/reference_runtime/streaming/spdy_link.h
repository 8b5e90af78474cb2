// The SPDY/3.1 side of crispd's streaming server, as the kubelet's Go
// server speaks it to kubectl, crictl and the kubelet's proxy
// (../shared/research/spdy.md §1, §5): after the 101, the client opens one
// stream per channel (streamtype error, stdin, stdout, stderr, resize),
// each answered at once with a SYN_REPLY; the session starts when
// the set its request asked for is there. Output goes out as DATA on the
// channel's stream, the v4 status on the error stream; at the end each of
// crispd's streams gets FIN, then GOAWAY, then the connection closes. Pings
// are echoed. A peer's flow-control windows are not waited for (the Go
// peers never send WINDOW_UPDATE); memory is bounded by reading the socket
// no faster than the command's stdin takes it.
#pragma once

#include <poll.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <array>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "common/strings.h"
#include "streaming_protocol/spdy_frame.h"
#include "streaming_protocol/spdy_headers.h"

namespace crisp::crispd {

// One upgraded connection and its streams: the frame decoder (fed with any
// bytes that came behind the upgrade request), the two zlib streams, and
// which stream carries which channel.
class SpdyConnection {
 public:
  static constexpr const char* kStreamTypes[] = {"stdin", "stdout", "stderr", "error", "resize"};  // by channel

  SpdyConnection(boost::asio::ip::tcp::socket& socket, std::string_view early_bytes) : socket_(socket) {
    pending_ = decoder_.Feed(early_bytes);
  }

  // Waits (up to `within`) until the client has opened a stream for each
  // channel in `channels`, answering each as it comes and echoing pings.
  absl::Status Establish(const std::set<int>& channels, std::chrono::milliseconds within) {
    if (!pending_.ok()) return pending_;
    const auto until = std::chrono::steady_clock::now() + within;
    while (true) {
      while (std::optional<spdy::Frame> frame = decoder_.Next()) {
        if (absl::Status handled = HandleSetupFrame(*frame); !handled.ok()) return handled;
      }
      bool complete = true;
      for (int channel : channels) complete = complete && id_of_.count(channel);
      if (complete) return absl::OkStatus();
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0) return absl::DeadlineExceededError("the client did not open its streams in time");
      pollfd ready{socket_.native_handle(), POLLIN, 0};
      if (poll(&ready, 1, static_cast<int>(left.count())) <= 0) continue;
      char buffer[16 * 1024];
      boost::system::error_code ec;
      size_t n = socket_.read_some(boost::asio::buffer(buffer), ec);
      if (ec || n == 0) return absl::UnavailableError("the client left while opening its streams");
      if (absl::Status fed = decoder_.Feed(std::string_view(buffer, n)); !fed.ok()) return Fail(fed);
    }
  }

  // The SYN_REPLY for a stream the client opened. The kubelet's server
  // sends no headers; the SPDY/3 draft's HTTP layer (§3.2.2) asks a reply
  // for :status and :version, which Go clients ignore and HTTP-minded SPDY
  // clients (npm spdy-transport) require, so crispd sends them.
  absl::StatusOr<std::string> Reply(uint32_t id) {
    absl::StatusOr<std::string> block = compressor_.Compress({{":status", "200"}, {":version", "HTTP/1.1"}});
    if (!block.ok()) return block.status();
    return spdy::EncodeSynReply(id, *block, false);
  }

  // The headers of a SYN_STREAM (or SYN_REPLY, HEADERS): every block goes
  // through here, to keep the client's zlib stream in step.
  absl::StatusOr<spdy::Headers> HeadersOf(const spdy::Frame& frame) { return decompressor_.Decompress(frame.data); }

  // The channel a SYN_STREAM asks for (-1 if its streamtype is unknown).
  absl::StatusOr<int> ChannelOf(const spdy::Frame& syn) {
    absl::StatusOr<spdy::Headers> headers = HeadersOf(syn);
    if (!headers.ok()) return headers.status();
    std::string_view type = spdy::HeaderValue(*headers, "streamtype");
    for (int channel = 0; channel < 5; ++channel) {
      if (type == kStreamTypes[channel]) return channel;
    }
    return -1;
  }

  // Whether the bytes that came behind the upgrade request made frames.
  absl::Status early_status() const { return pending_; }
  boost::asio::ip::tcp::socket& socket() { return socket_; }
  // DATA frames (stdin) that came before the last stream was opened, once.
  std::deque<spdy::Frame> TakeEarlyData() { return std::exchange(early_data_, {}); }
  spdy::FrameDecoder& decoder() { return decoder_; }
  std::map<int, uint32_t>& id_of() { return id_of_; }
  uint32_t last_client_id() const { return last_client_id_; }
  void set_last_client_id(uint32_t id) { last_client_id_ = std::max(last_client_id_, id); }

 private:
  absl::Status Fail(absl::Status status) {
    std::string goaway = spdy::EncodeGoAway(last_client_id_, spdy::GoAwayStatus::kProtocolError);
    boost::system::error_code ignored;
    boost::asio::write(socket_, boost::asio::buffer(goaway), ignored);
    return status;
  }

  absl::Status HandleSetupFrame(const spdy::Frame& frame) {
    boost::system::error_code ec;
    if (frame.control && frame.type == spdy::ControlType::kSynStream) {
      absl::StatusOr<int> channel = ChannelOf(frame);
      if (!channel.ok()) return Fail(channel.status());
      set_last_client_id(frame.stream_id);
      absl::StatusOr<std::string> reply = Reply(frame.stream_id);
      if (!reply.ok()) return Fail(reply.status());
      boost::asio::write(socket_, boost::asio::buffer(*reply), ec);
      // An unknown type is answered and not counted, as the kubelet does.
      if (*channel >= 0 && !id_of_.count(*channel)) id_of_[*channel] = frame.stream_id;
    } else if (frame.control && frame.type == spdy::ControlType::kPing && frame.ping_id % 2 == 1) {
      std::string pong = spdy::EncodePing(frame.ping_id);
      boost::asio::write(socket_, boost::asio::buffer(pong), ec);
    } else if (!frame.control) {
      early_data_.push_back(frame);  // stdin that came before the last stream: kept for the session
    } else if (frame.control && frame.type == spdy::ControlType::kGoAway) {
      return absl::UnavailableError("the client went away while opening its streams");
    }
    if (ec) return absl::UnavailableError(crisp::StrCat("writing to the client: ", ec.message()));
    return absl::OkStatus();
  }

 private:
  std::deque<spdy::Frame> early_data_;  // DATA that came while the streams were being opened
  boost::asio::ip::tcp::socket& socket_;
  spdy::FrameDecoder decoder_;
  spdy::HeaderCompressor compressor_;
  spdy::HeaderDecompressor decompressor_;
  std::map<int, uint32_t> id_of_;  // channel -> the client's stream
  uint32_t last_client_id_ = 0;
  absl::Status pending_;
};

// The client's side of an exec or attach session over SPDY; the same
// interface as WebSocketLink. Stdin (DATA on the stdin stream) goes to
// `sink` in order, and its FIN closes the sink; resize JSON lines go to
// `on_resize`; the client's GOAWAY, a broken frame or the connection's end
// calls `on_end`.
template <typename Sink>
class SpdyLink {
 public:
  using Connection = SpdyConnection;
  static constexpr size_t kMaxQueued = 4;            // DATA frames waiting, each way
  static constexpr size_t kMaxOutgoing = 64;         // frames of any kind waiting for the client
  static constexpr size_t kMaxFramePayload = 32 * 1024;

  SpdyLink(Connection& connection, Sink& sink, std::function<void()> on_end,
           std::function<void(const std::string&)> on_resize = nullptr)
      : connection_(connection), sink_(sink), on_end_(std::move(on_end)), on_resize_(std::move(on_resize)),
        linger_(connection.socket().get_executor()) {}

  void Send(int channel, std::string_view data) {
    if (closing_ || data.empty()) return;  // an empty message (WebSocket's "stream open") means nothing here
    auto id = connection_.id_of().find(channel);
    if (id == connection_.id_of().end()) return;
    while (!data.empty()) {
      std::string_view piece = data.substr(0, kMaxFramePayload);
      Queue(spdy::EncodeData(id->second, piece, false), /*counts=*/true);
      data.remove_prefix(piece.size());
    }
  }

  void WhenWritable(std::function<void()> resume) {
    if (closing_ || counted_ < kMaxQueued) return resume();
    waiting_.push_back(std::move(resume));
  }

  // FIN on each stream crispd writes to, then GOAWAY, then the close.
  void CloseWhenDrained() {
    if (closing_) return;
    for (const auto& [channel, id] : connection_.id_of()) {
      if (channel != 0 && channel != 4) Queue(spdy::EncodeData(id, "", true), /*counts=*/false);
    }
    Queue(spdy::EncodeGoAway(connection_.last_client_id(), spdy::GoAwayStatus::kOk), /*counts=*/false);
    closing_ = true;
    close_after_writes_ = true;
    if (out_.empty()) FinishSending();
  }

  bool closed() const { return closing_; }

  void Start() {
    for (const spdy::Frame& frame : connection_.TakeEarlyData()) HandleData(frame);
    Read();
  }

  void Abort() {
    closing_ = true;
    CloseSocket();
  }

 private:
  void Queue(std::string frame, bool counts) {
    out_.push_back({std::move(frame), counts});
    if (counts) ++counted_;
    if (out_.size() == 1) WriteFront();
  }

  void WriteFront() {
    boost::asio::async_write(connection_.socket(), boost::asio::buffer(out_.front().bytes),
                             [this](boost::beast::error_code ec, size_t) {
                               if (out_.front().counts) --counted_;
                               out_.pop_front();
                               if (ec) {
                                 closing_ = true;
                                 out_.clear();
                                 counted_ = 0;
                               }
                               if (closing_ || counted_ < kMaxQueued) Resume();
                               if (ec) return;
                               ResumeReading();
                               if (!out_.empty()) return WriteFront();
                               if (close_after_writes_) FinishSending();
                             });
  }

  void Resume() {
    std::vector<std::function<void()>> waiting;
    waiting.swap(waiting_);
    for (auto& resume : waiting) resume();
  }

  // Everything is written: half-close, and let the client hang up. Closing
  // with its late frames (WINDOW_UPDATE, RST) unread would make the kernel
  // answer with a reset, and a client may then drop the end of the output
  // it has not read yet. Read on (Read() ends at the client's close) for
  // up to 5 s.
  void FinishSending() {
    boost::system::error_code ignored;
    connection_.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
    linger_.expires_after(std::chrono::seconds(5));
    linger_.async_wait([this](boost::system::error_code ec) {
      if (!ec) CloseSocket();
    });
  }

  void CloseSocket() {
    linger_.cancel();
    boost::system::error_code ignored;
    connection_.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
    connection_.socket().close(ignored);
  }

  void Read() {
    if (paused_) return;
    connection_.socket().async_read_some(boost::asio::buffer(buffer_), [this](boost::beast::error_code ec, size_t n) {
      if (ec || n == 0) return on_end_();
      if (!connection_.decoder().Feed(std::string_view(buffer_.data(), n)).ok()) return on_end_();
      while (std::optional<spdy::Frame> frame = connection_.decoder().Next()) {
        if (!Handle(*frame)) return on_end_();
      }
      // Resumed as the sink takes what waits, and as the client takes the
      // answers (a client that opens streams and reads nothing is not
      // answered into crispd's memory).
      if (stdin_.size() >= kMaxQueued || out_.size() >= kMaxOutgoing) {
        paused_ = true;
        return;
      }
      Read();
    });
  }

  void ResumeReading() {
    if (!paused_ || stdin_.size() >= kMaxQueued || out_.size() >= kMaxOutgoing) return;
    paused_ = false;
    Read();
  }

  // false: the client is done with the session.
  bool Handle(const spdy::Frame& frame) {
    if (!frame.control) {
      HandleData(frame);
      return true;
    }
    switch (frame.type) {
      case spdy::ControlType::kPing:
        if (frame.ping_id % 2 == 1) Queue(spdy::EncodePing(frame.ping_id), /*counts=*/false);
        return true;
      case spdy::ControlType::kSynStream: {
        // A stream after the session started: answered, and not used.
        connection_.set_last_client_id(frame.stream_id);
        if (!connection_.ChannelOf(frame).ok()) return false;
        absl::StatusOr<std::string> reply = connection_.Reply(frame.stream_id);
        if (!reply.ok()) return false;
        Queue(*reply, /*counts=*/false);
        return true;
      }
      case spdy::ControlType::kRstStream:
        if (IsStdin(frame.stream_id)) EndStdin();
        return true;
      case spdy::ControlType::kGoAway:
        return false;
      default:
        return true;
    }
  }

  bool IsStdin(uint32_t id) const {
    auto found = connection_.id_of().find(0);
    return found != connection_.id_of().end() && found->second == id;
  }

  void HandleData(const spdy::Frame& frame) {
    auto resize = connection_.id_of().find(4);
    if (resize != connection_.id_of().end() && resize->second == frame.stream_id) {
      resize_buffer_ += frame.data;
      for (size_t newline; (newline = resize_buffer_.find('\n')) != std::string::npos;) {
        if (on_resize_) on_resize_(resize_buffer_.substr(0, newline));
        resize_buffer_.erase(0, newline + 1);
      }
      if (!resize_buffer_.empty() && resize_buffer_.back() == '}' && on_resize_) {  // one object, no newline
        on_resize_(resize_buffer_);
        resize_buffer_.clear();
      }
      return;
    }
    if (!IsStdin(frame.stream_id)) return;
    if (!frame.data.empty() && sink_.is_open()) {
      stdin_.push_back(frame.data);
      if (stdin_.size() == 1) WriteStdin();
    }
    if (frame.fin()) EndStdin();
  }

  void WriteStdin() {
    boost::asio::async_write(sink_, boost::asio::buffer(stdin_.front()), [this](boost::beast::error_code ec, size_t) {
      stdin_.pop_front();
      if (ec) stdin_.clear();
      if (!stdin_.empty()) return WriteStdin();
      if (stdin_ended_) CloseSink();
      ResumeReading();
    });
  }

  // The client half-closed stdin: the command sees its end once what came
  // before is written.
  void EndStdin() {
    stdin_ended_ = true;
    if (stdin_.empty()) CloseSink();
  }

  void CloseSink() {
    boost::system::error_code ignored;
    if (sink_.is_open()) sink_.close(ignored);
  }

  struct Outgoing {
    std::string bytes;
    bool counts;
  };
  Connection& connection_;
  Sink& sink_;
  std::function<void()> on_end_;
  std::function<void(const std::string&)> on_resize_;
  std::deque<Outgoing> out_;
  size_t counted_ = 0;
  std::vector<std::function<void()>> waiting_;
  bool closing_ = false;
  bool close_after_writes_ = false;
  std::array<char, 32 * 1024> buffer_{};
  bool paused_ = false;
  std::deque<std::string> stdin_;
  bool stdin_ended_ = false;
  std::string resize_buffer_;
  boost::asio::steady_timer linger_;
};

}  // namespace crisp::crispd
