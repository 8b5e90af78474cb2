// crisp's SPDY/3.1 framing and header compression against an independent
// implementation: the npm spdy package (spdy_peer.cjs), over TCP. A stream
// is opened with a compressed header block, data goes both ways, the
// peer's SETTINGS, SYN_REPLY (its own zlib window size), DATA and FIN are
// read back, PING is echoed, and GOAWAY ends the session. Needs node and
// `npm ci --prefix tests/interop` (ci/test runs it).
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>

#include "absl/time/clock.h"
#include "common/subprocess.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "streaming_protocol/spdy_frame.h"
#include "streaming_protocol/spdy_headers.h"

namespace crisp::spdy {
namespace {

const std::string kPeerDir = std::string(CRISP_SOURCE_DIR) + "/tests/interop";

class SpdyPeer {
 public:
  // Starts the node peer; the port it listens on, or 0.
  int Start() {
    if (!std::filesystem::exists(kPeerDir + "/node_modules/spdy")) {
      ADD_FAILURE() << "the npm spdy package is missing: run npm ci --prefix tests/interop";
      return 0;
    }
    SpawnOptions options;
    options.argv = {"node", kPeerDir + "/spdy_peer.cjs"};
    options.search_path = true;
    options.in = Stdio::Pipe();
    options.out = Stdio::Pipe();
    options.err = Stdio::Inherit();
    absl::StatusOr<Child> child = Child::Spawn(options);
    if (!child.ok()) {
      ADD_FAILURE() << child.status();
      return 0;
    }
    child_ = std::move(*child);
    stdin_ = child_->TakeStdin();
    int out = child_->TakeStdout();
    std::string line;
    char c;
    pollfd fd{out, POLLIN, 0};
    while (poll(&fd, 1, 10000) > 0 && read(out, &c, 1) == 1 && c != '\n') line += c;
    close(out);
    return line.empty() ? 0 : std::stoi(line);
  }
  ~SpdyPeer() {
    if (stdin_ >= 0) close(stdin_);  // the peer exits when its stdin closes
    if (child_) child_->WaitUntil(absl::Now() + absl::Seconds(5));
  }

 private:
  std::optional<Child> child_;
  int stdin_ = -1;
};

class Connection {
 public:
  explicit Connection(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~Connection() { close(fd_); }
  bool connected() const { return connected_; }
  void Send(const std::string& bytes) { ASSERT_EQ(write(fd_, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size())); }
  // The next frame within 5 s; nullopt at a timeout or when the peer closed.
  std::optional<Frame> Next() {
    while (true) {
      if (std::optional<Frame> frame = decoder_.Next()) return frame;
      pollfd ready{fd_, POLLIN, 0};
      if (poll(&ready, 1, 5000) <= 0) return std::nullopt;
      char buffer[16384];
      ssize_t n = read(fd_, buffer, sizeof buffer);
      if (n <= 0) {
        closed_by_peer_ = n == 0;
        return std::nullopt;
      }
      EXPECT_TRUE(decoder_.Feed(std::string_view(buffer, static_cast<size_t>(n))).ok());
    }
  }
  // Whether the peer has closed the connection (seen by Next()).
  bool closed_by_peer() const { return closed_by_peer_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool closed_by_peer_ = false;
  FrameDecoder decoder_;
};

TEST(SpdyInteropTest, AStreamBothWaysThenPingAndGoAwayWithTheNpmSpdyPackage) {
  SpdyPeer peer;
  int port = peer.Start();
  ASSERT_GT(port, 0) << "the peer did not start";
  Connection connection(port);
  ASSERT_TRUE(connection.connected());

  HeaderCompressor compressor;
  absl::StatusOr<std::string> block = compressor.Compress(
      {{":method", "POST"}, {":path", "/echo"}, {":version", "HTTP/1.1"}, {":host", "crisp"}, {":scheme", "http"}});
  ASSERT_TRUE(block.ok()) << block.status();
  connection.Send(EncodeSynStream(1, *block, false) + EncodeData(1, "hello", true));

  HeaderDecompressor decompressor;
  Headers reply;
  std::string body;
  bool fin = false;
  bool settings = false;
  while (!fin) {
    std::optional<Frame> frame = connection.Next();
    ASSERT_TRUE(frame) << "the peer went quiet before its FIN";
    if (frame->control && frame->type == ControlType::kSettings) {
      settings = true;
    } else if (frame->control && frame->type == ControlType::kSynReply) {
      EXPECT_EQ(frame->stream_id, 1u);
      absl::StatusOr<Headers> headers = decompressor.Decompress(frame->data);
      ASSERT_TRUE(headers.ok()) << headers.status();
      reply = *headers;
      fin = frame->fin();
    } else if (!frame->control) {
      EXPECT_EQ(frame->stream_id, 1u);
      body += frame->data;
      fin = frame->fin();
    }
  }
  EXPECT_TRUE(settings) << "the peer announces its settings first";
  EXPECT_EQ(HeaderValue(reply, ":status"), "200 OK");
  EXPECT_EQ(HeaderValue(reply, "x-crisp"), "interop");
  EXPECT_EQ(body, "got POST /echo hello");

  // A second stream on the same zlib streams, both ways.
  block = compressor.Compress(
      {{":method", "GET"}, {":path", "/again"}, {":version", "HTTP/1.1"}, {":host", "crisp"}, {":scheme", "http"}});
  ASSERT_TRUE(block.ok());
  connection.Send(EncodeSynStream(3, *block, true));
  body.clear();
  fin = false;
  while (!fin) {
    std::optional<Frame> frame = connection.Next();
    ASSERT_TRUE(frame);
    if (frame->control && frame->type == ControlType::kSynReply) {
      absl::StatusOr<Headers> headers = decompressor.Decompress(frame->data);
      ASSERT_TRUE(headers.ok()) << headers.status();
      EXPECT_EQ(HeaderValue(*headers, ":status"), "200 OK");
    } else if (!frame->control && frame->stream_id == 3) {
      body += frame->data;
      fin = frame->fin();
    }
  }
  EXPECT_EQ(body, "got GET /again ");

  // A client PING (odd id) comes back as it went.
  connection.Send(EncodePing(5));
  std::optional<Frame> pong;
  while ((pong = connection.Next()) && !(pong->control && pong->type == ControlType::kPing)) {
  }
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->ping_id, 5u);

  // A stream reset by the client, then GOAWAY: the peer ends the session.
  block = compressor.Compress(
      {{":method", "POST"}, {":path", "/cut"}, {":version", "HTTP/1.1"}, {":host", "crisp"}, {":scheme", "http"}});
  ASSERT_TRUE(block.ok());
  connection.Send(EncodeSynStream(5, *block, false) + EncodeRstStream(5, RstStatus::kCancel) +
                  EncodeGoAway(0, GoAwayStatus::kOk));
  while (connection.Next()) {
  }
  EXPECT_TRUE(connection.closed_by_peer()) << "the peer should end the session after GOAWAY, within 5 s";
}

}  // namespace
}  // namespace crisp::spdy
