#include "reference_runtime/streaming/streaming_server.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "common/temp_dir.h"
#include "streaming_protocol/spdy_frame.h"
#include "streaming_protocol/spdy_headers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crisp::crispd {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using ::testing::HasSubstr;

struct Url {
  std::string port;
  std::string path;
};

Url Split(const std::string& url) {
  // http://127.0.0.1:PORT/PATH
  std::string rest = url.substr(std::string("http://127.0.0.1:").size());
  size_t slash = rest.find('/');
  return {rest.substr(0, slash), rest.substr(slash)};
}

// A client of the channel protocol: writes `input` on channel 0, then reads
// every message until the server closes; channel -> what it carried.
std::map<int, std::string> Follow(const std::string& url, const std::string& input = "") {
  Url parts = Split(url);
  asio::io_context io;
  tcp::resolver resolver(io);
  websocket::stream<tcp::socket> ws(io);
  asio::connect(ws.next_layer(), resolver.resolve("127.0.0.1", parts.port));
  ws.set_option(websocket::stream_base::decorator(
      [](websocket::request_type& request) { request.set(http::field::sec_websocket_protocol, "v4.channel.k8s.io"); }));
  ws.handshake("127.0.0.1:" + parts.port, parts.path);
  ws.binary(true);
  if (!input.empty()) ws.write(asio::buffer(std::string(1, '\0') + input));
  std::map<int, std::string> channels;
  for (;;) {
    beast::flat_buffer buffer;
    beast::error_code ec;
    ws.read(buffer, ec);
    if (ec) break;
    std::string message = beast::buffers_to_string(buffer.data());
    if (!message.empty()) channels[static_cast<unsigned char>(message[0])] += message.substr(1);
  }
  return channels;
}

// What a plain HTTP GET of the URL answers: "<status> <body>".
std::string Get(const std::string& url, bool upgrade) {
  Url parts = Split(url);
  asio::io_context io;
  tcp::resolver resolver(io);
  tcp::socket socket(io);
  asio::connect(socket, resolver.resolve("127.0.0.1", parts.port));
  http::request<http::empty_body> request(http::verb::get, parts.path, 11);
  request.set(http::field::host, "127.0.0.1");
  if (upgrade) {  // a WebSocket upgrade without the subprotocol
    request.set(http::field::connection, "Upgrade");
    request.set(http::field::upgrade, "websocket");
    request.set(http::field::sec_websocket_version, "13");
    request.set(http::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
  }
  http::write(socket, request);
  beast::flat_buffer buffer;
  http::response<http::string_body> answer;
  http::read(socket, buffer, answer);
  return std::to_string(answer.result_int()) + " " + answer.body();
}

TEST(StreamingServerTest, ExecStreamsOutputAndTheExitCodeAndAUrlServesOnce) {
  auto server = StreamingServer::Start("127.0.0.1");
  ASSERT_TRUE(server.ok()) << server.status();
  std::string url = (*server)->ExecUrl({.argv = {"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}, .stdin = false, .stdout = true, .stderr = true});
  EXPECT_THAT(url, ::testing::MatchesRegex("http://127\\.0\\.0\\.1:[0-9]+/exec/[0-9a-f]+"));
  std::map<int, std::string> channels = Follow(url);
  EXPECT_EQ(channels[1], "out\n");
  EXPECT_EQ(channels[2], "err\n");
  EXPECT_THAT(channels[3], HasSubstr(R"("reason":"NonZeroExitCode")"));
  EXPECT_THAT(channels[3], HasSubstr(R"({"message":"3","reason":"ExitCode"})"));

  EXPECT_THAT(Get(url, true), HasSubstr("404 unknown or expired streaming URL"));
}

TEST(StreamingServerTest, StdinReachesTheCommandAndSuccessIsAStatus) {
  auto server = StreamingServer::Start("127.0.0.1");
  ASSERT_TRUE(server.ok()) << server.status();
  std::map<int, std::string> channels =
      Follow((*server)->ExecUrl({.argv = {"/bin/sh", "-c", "read line; echo got:$line"}, .stdin = true, .stdout = true, .stderr = false}), "hello\n");
  EXPECT_EQ(channels[1], "got:hello\n");
  EXPECT_EQ(channels.count(2), 0u);
  EXPECT_THAT(channels[3], HasSubstr(R"("status":"Success")"));
}

// Whether a process with exactly this command line runs.
bool Running(const std::string& cmdline) {
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::ifstream in(entry.path() / "cmdline");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::replace(text.begin(), text.end(), '\0', ' ');
    if (text == cmdline + " ") return true;
  }
  return false;
}

TEST(StreamingServerTest, AClientThatLeavesHasItsCommandKilled) {
  auto server = StreamingServer::Start("127.0.0.1");
  ASSERT_TRUE(server.ok()) << server.status();
  Url parts = Split((*server)->ExecUrl({.argv = {"/bin/sh", "-c", "echo started; exec sleep 31.5"}, .stdin = false, .stdout = true, .stderr = false}) +
                    "?ignored=query");
  {
    asio::io_context io;
    tcp::resolver resolver(io);
    websocket::stream<tcp::socket> ws(io);
    asio::connect(ws.next_layer(), resolver.resolve("127.0.0.1", parts.port));
    // The command is spawned by this process: it must not inherit the
    // client's end, or closing it here would not end the connection.
    fcntl(ws.next_layer().native_handle(), F_SETFD, FD_CLOEXEC);
    ws.set_option(websocket::stream_base::decorator(
        [](websocket::request_type& request) { request.set(http::field::sec_websocket_protocol, "v4.channel.k8s.io"); }));
    ws.handshake("127.0.0.1:" + parts.port, parts.path);
    std::string out;
    while (out.find("started") == std::string::npos) {
      beast::flat_buffer buffer;
      ws.read(buffer);
      out += beast::buffers_to_string(buffer.data());
    }
    EXPECT_TRUE(Running("sleep 31.5"));
  }  // the connection drops without a close
  bool gone = false;
  for (int i = 0; i < 50 && !gone; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    gone = !Running("sleep 31.5");
  }
  EXPECT_TRUE(gone);
}

TEST(StreamingServerTest, TheStatusComesWhenTheCommandExitsNotWhenABackgroundChildLetsGoOfStdout) {
  auto server = StreamingServer::Start("127.0.0.1");
  ASSERT_TRUE(server.ok()) << server.status();
  const auto start = std::chrono::steady_clock::now();
  std::map<int, std::string> channels = Follow(
      (*server)->ExecUrl({.argv = {"/bin/sh", "-c", "sleep 20 & echo hi; exit 4"}, .stdout = true, .stderr = true}));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(channels[1], "hi\n");
  EXPECT_THAT(channels[3], HasSubstr("non-zero exit code: 4"));
}

TEST(StreamingServerTest, OnlyAWebSocketWithTheSubprotocolIsServed) {
  auto server = StreamingServer::Start("127.0.0.1");
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_THAT(Get((*server)->ExecUrl({.argv = {"/bin/true"}, .stdin = false, .stdout = true, .stderr = false}), false), HasSubstr("400 crispd streams over WebSocket"));
  EXPECT_THAT(Get((*server)->ExecUrl({.argv = {"/bin/true"}, .stdin = false, .stdout = true, .stderr = false}), true), HasSubstr("v4.channel.k8s.io"));
  EXPECT_THAT(Get((*server)->ExecUrl({.argv = {"/bin/true"}, .stdin = false, .stdout = true, .stderr = false}) + "x", true), HasSubstr("404"));
}

// The pod's side of a port forward: one connection, whose first read is
// kept, answered with "pong".
std::thread ServeOnePong(asio::io_context& io, tcp::acceptor& acceptor, std::string* received) {
  return std::thread([&io, &acceptor, received] {
    tcp::socket socket(io);
    acceptor.accept(socket);
    std::array<char, 64> buffer{};
    size_t n = socket.read_some(asio::buffer(buffer));
    received->assign(buffer.data(), n);
    asio::write(socket, asio::buffer(std::string("pong")));
  });
}

TEST(StreamingServerTest, PortForwardReachesAPortInTheNamespace) {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  int port = acceptor.local_endpoint().port();
  std::string received;
  std::thread pod = ServeOnePong(io, acceptor, &received);
  auto server = StreamingServer::Start("127.0.0.1");
  ASSERT_TRUE(server.ok()) << server.status();
  std::map<int, std::string> channels = Follow((*server)->PortForwardUrl({"/proc/self/ns/net", port}), "ping");
  pod.join();
  std::string prefix{static_cast<char>(port & 0xff), static_cast<char>(port >> 8)};
  EXPECT_EQ(received, "ping");
  EXPECT_EQ(channels[0], prefix + "pong");
  EXPECT_EQ(channels[1], prefix);
}

TEST(StreamingServerTest, APortNothingListensOnIsReportedOnTheErrorChannel) {
  int port;
  {
    asio::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = acceptor.local_endpoint().port();
  }
  auto server = StreamingServer::Start("127.0.0.1");
  ASSERT_TRUE(server.ok()) << server.status();
  std::map<int, std::string> channels = Follow((*server)->PortForwardUrl({"/proc/self/ns/net", port}));
  EXPECT_THAT(channels[1], HasSubstr("cannot connect to port " + std::to_string(port) + " in the pod"));
}

TEST(StreamingServerTest, ABadAddressIsAnError) {
  EXPECT_FALSE(StreamingServer::Start("localhost").ok());
  EXPECT_FALSE(StreamingServer::Start("::1").ok());
}

// conmon's side of an attach socket: a SOCK_SEQPACKET listener at
// <dir>/attach that sends `output` packets, then echoes one stdin packet
// back as stdout, then hangs up.
class FakeAttachSocket {
 public:
  explicit FakeAttachSocket(const std::string& dir) {
    listener_ = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::string path = dir + "/attach";
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    EXPECT_EQ(bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    EXPECT_EQ(listen(listener_, 1), 0);
    thread_ = std::thread([this] {
      int fd = accept(listener_, nullptr, nullptr);
      if (fd < 0) return;
      for (const std::string& packet : {std::string("\x02out\n"), std::string("\x03" "err\n")}) {
        send(fd, packet.data(), packet.size(), 0);
      }
      char buffer[8193];
      ssize_t n = recv(fd, buffer, sizeof buffer, 0);
      if (n > 0) {
        stdin_ = std::string(buffer, static_cast<size_t>(n));
        std::string echo = "\x02got:" + stdin_;
        send(fd, echo.data(), echo.size(), 0);
      }
      close(fd);
    });
  }
  ~FakeAttachSocket() {
    thread_.join();
    close(listener_);
  }
  const std::string& stdin_seen() const { return stdin_; }

 private:
  int listener_ = -1;
  std::thread thread_;
  std::string stdin_;
};

TEST(StreamingServerTest, AttachCarriesTheContainersStreamsBothWays) {
  auto server = StreamingServer::Start("127.0.0.1");
  ASSERT_TRUE(server.ok()) << server.status();
  absl::StatusOr<TempDir> dir = TempDir::Make("attach");
  ASSERT_TRUE(dir.ok());
  std::map<int, std::string> channels;
  {
    FakeAttachSocket conmon(dir->path());
    channels = Follow((*server)->AttachUrl({.dir = dir->path(), .stdin = true, .stdout = true, .stderr = true}),
                      "hello\n");
  }
  EXPECT_EQ(channels[1], "out\ngot:hello\n");
  EXPECT_EQ(channels[2], "err\n");
}

TEST(StreamingServerTest, AttachWithoutAMonitorSaysSo) {
  auto server = StreamingServer::Start("127.0.0.1");
  ASSERT_TRUE(server.ok()) << server.status();
  std::map<int, std::string> channels = Follow((*server)->AttachUrl({.dir = "/nonexistent", .stdout = true}));
  EXPECT_THAT(channels[3], HasSubstr("cannot reach the container's attach socket"));
}

TEST(StreamingServerTest, ConsoleSocketsAreShortFreshPaths) {
  auto server = StreamingServer::Start("127.0.0.1");
  ASSERT_TRUE(server.ok()) << server.status();
  std::string first = (*server)->ConsoleSocket();
  EXPECT_NE(first, (*server)->ConsoleSocket());
  EXPECT_LT(first.size(), sizeof(sockaddr_un::sun_path));
  EXPECT_TRUE(std::filesystem::is_directory(std::filesystem::path(first).parent_path()));
}

// A minimal SPDY/3.1 client, as client-go opens an exec: the upgrade, then
// a stream per channel, stdin written and half-closed, everything read to
// the server's close. Returns channel -> bytes (3: the status), and "101"
// under -1 when the upgrade was accepted.
std::map<int, std::string> FollowSpdy(const std::string& url, const std::vector<std::string>& types,
                                      const std::string& input = "") {
  Url parts = Split(url);
  asio::io_context io;
  tcp::resolver resolver(io);
  tcp::socket socket(io);
  asio::connect(socket, resolver.resolve("127.0.0.1", parts.port));
  std::string upgrade = "POST " + parts.path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n"
                        "Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n";
  spdy::HeaderCompressor compressor;
  std::map<uint32_t, int> channel_of;
  uint32_t id = 1;
  std::string frames;
  for (const std::string& type : types) {
    int channel = type == "stdin" ? 0 : type == "stdout" ? 1 : type == "stderr" ? 2 : type == "error" ? 3 : 4;
    channel_of[id] = channel;
    frames += spdy::EncodeSynStream(id, *compressor.Compress({{"streamtype", type}}), false);
    if (type == "stdin") frames += spdy::EncodeData(id, input, /*fin=*/true);
    id += 2;
  }
  asio::write(socket, asio::buffer(upgrade + frames));  // frames right behind the request, as clients may send them
  std::map<int, std::string> channels;
  std::string response;
  beast::error_code ec;
  char buffer[4096];
  size_t header_end;
  while ((header_end = response.find("\r\n\r\n")) == std::string::npos) {
    size_t n = socket.read_some(asio::buffer(buffer), ec);
    if (ec) return channels;
    response.append(buffer, n);
  }
  if (response.starts_with("HTTP/1.1 101")) channels[-1] = "101";
  spdy::FrameDecoder decoder;
  spdy::HeaderDecompressor decompressor;
  EXPECT_TRUE(decoder.Feed(response.substr(header_end + 4)).ok());
  while (true) {
    while (std::optional<spdy::Frame> frame = decoder.Next()) {
      if (frame->control && frame->type == spdy::ControlType::kSynReply) {
        EXPECT_TRUE(decompressor.Decompress(frame->data).ok());
      } else if (!frame->control) {
        channels[channel_of[frame->stream_id]] += frame->data;
      }
    }
    size_t n = socket.read_some(asio::buffer(buffer), ec);
    if (ec) break;
    EXPECT_TRUE(decoder.Feed(std::string_view(buffer, n)).ok());
  }
  return channels;
}

TEST(StreamingServerTest, ExecOverSpdyCarriesEachStreamAndTheStatus) {
  auto server = StreamingServer::Start("127.0.0.1");
  ASSERT_TRUE(server.ok()) << server.status();
  std::map<int, std::string> channels = FollowSpdy(
      (*server)->ExecUrl({.argv = {"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}, .stdout = true, .stderr = true}),
      {"error", "stdout", "stderr"});
  EXPECT_EQ(channels[-1], "101");
  EXPECT_EQ(channels[1], "out\n");
  EXPECT_EQ(channels[2], "err\n");
  EXPECT_THAT(channels[3], HasSubstr("non-zero exit code: 3"));
}

TEST(StreamingServerTest, StdinHalfClosedOverSpdyEndsTheCommandsInput) {
  auto server = StreamingServer::Start("127.0.0.1");
  ASSERT_TRUE(server.ok()) << server.status();
  // cat ends only when its stdin does: the FIN must reach it.
  std::map<int, std::string> channels = FollowSpdy(
      (*server)->ExecUrl({.argv = {"/bin/cat"}, .stdin = true, .stdout = true}), {"error", "stdin", "stdout"},
      "one\ntwo\n");
  EXPECT_EQ(channels[1], "one\ntwo\n");
  EXPECT_THAT(channels[3], HasSubstr("Success"));
}

TEST(StreamingServerTest, SpdyWithoutACommonStreamProtocolIsRefused) {
  auto server = StreamingServer::Start("127.0.0.1");
  ASSERT_TRUE(server.ok()) << server.status();
  Url parts = Split((*server)->ExecUrl({.argv = {"/bin/true"}, .stdout = true}));
  asio::io_context io;
  tcp::resolver resolver(io);
  tcp::socket socket(io);
  asio::connect(socket, resolver.resolve("127.0.0.1", parts.port));
  http::request<http::empty_body> request(http::verb::post, parts.path, 11);
  request.set(http::field::host, "127.0.0.1");
  request.set(http::field::connection, "Upgrade");
  request.set(http::field::upgrade, "SPDY/3.1");
  request.set("X-Stream-Protocol-Version", "channel.k8s.io");
  http::write(socket, request);
  beast::flat_buffer buffer;
  http::response<http::string_body> answer;
  http::read(socket, buffer, answer);
  EXPECT_EQ(answer.result_int(), 403);
  EXPECT_EQ(answer["X-Accepted-Stream-Protocol-Versions"], "v4.channel.k8s.io");
}

TEST(StreamingServerTest, AUrlOutlivesItsLifetimeNot) {
  auto server = StreamingServer::Start(StreamingOptions{.address = "127.0.0.1", .url_lifetime = std::chrono::seconds(1)});
  ASSERT_TRUE(server.ok()) << server.status();
  std::string url = (*server)->ExecUrl({.argv = {"/bin/true"}, .stdout = true});
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_THAT(Get(url, true), HasSubstr("404"));
  EXPECT_FALSE(StreamingServer::Start(StreamingOptions{.address = "127.0.0.1", .url_lifetime = std::chrono::seconds(0)}).ok());
}

TEST(StreamingServerTest, ConnectionsPastTheSessionLimitAreRefused) {
  auto server = StreamingServer::Start(StreamingOptions{.address = "127.0.0.1", .max_sessions = 1});
  ASSERT_TRUE(server.ok()) << server.status();
  // The first connection holds the one session (it sends no request yet).
  Url parts = Split((*server)->ExecUrl({.argv = {"/bin/true"}, .stdout = true}));
  asio::io_context io;
  tcp::resolver resolver(io);
  tcp::socket holder(io);
  asio::connect(holder, resolver.resolve("127.0.0.1", parts.port));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  // The second is closed without an answer.
  tcp::socket refused(io);
  asio::connect(refused, resolver.resolve("127.0.0.1", parts.port));
  char byte;
  beast::error_code ec;
  refused.read_some(asio::buffer(&byte, 1), ec);
  EXPECT_EQ(ec, asio::error::eof);
}

TEST(StreamingServerTest, PortForwardOverSpdyPairsStreamsByRequestAndCarriesData) {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const int port = acceptor.local_endpoint().port();
  std::string received;
  std::thread pod = ServeOnePong(io, acceptor, &received);
  auto server = StreamingServer::Start("127.0.0.1");
  ASSERT_TRUE(server.ok()) << server.status();
  Url parts = Split((*server)->PortForwardUrl({"/proc/self/ns/net", 0}));
  tcp::socket client(io);
  tcp::resolver resolver(io);
  asio::connect(client, resolver.resolve("127.0.0.1", parts.port));
  spdy::HeaderCompressor compressor;
  const std::string port_text = std::to_string(port);
  std::string request = "POST " + parts.path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n"
                        "Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: portforward.k8s.io\r\n\r\n";
  // As client-go: the error stream (half-closed at once), then the data stream.
  request += spdy::EncodeSynStream(1, *compressor.Compress({{"streamtype", "error"}, {"port", port_text}, {"requestid", "0"}}), false);
  request += spdy::EncodeData(1, "", true);
  request += spdy::EncodeSynStream(3, *compressor.Compress({{"streamtype", "data"}, {"port", port_text}, {"requestid", "0"}}), false);
  request += spdy::EncodeData(3, "ping", false);
  asio::write(client, asio::buffer(request));
  std::string response;
  char buffer[4096];
  beast::error_code ec;
  size_t header_end;
  while ((header_end = response.find("\r\n\r\n")) == std::string::npos && !ec) {
    size_t n = client.read_some(asio::buffer(buffer), ec);
    response.append(buffer, n);
  }
  ASSERT_TRUE(response.starts_with("HTTP/1.1 101")) << response;
  EXPECT_THAT(response, HasSubstr("X-Stream-Protocol-Version: portforward.k8s.io"));
  spdy::FrameDecoder decoder;
  ASSERT_TRUE(decoder.Feed(response.substr(header_end + 4)).ok());
  std::string data, errors;
  bool data_fin = false, error_fin = false;
  while (!(data_fin && error_fin)) {
    while (std::optional<spdy::Frame> frame = decoder.Next()) {
      if (frame->control) continue;
      (frame->stream_id == 3 ? data : errors) += frame->data;
      if (frame->fin()) (frame->stream_id == 3 ? data_fin : error_fin) = true;
    }
    if (data_fin && error_fin) break;
    size_t n = client.read_some(asio::buffer(buffer), ec);
    if (ec) break;
    ASSERT_TRUE(decoder.Feed(std::string_view(buffer, n)).ok());
  }
  pod.join();
  EXPECT_EQ(received, "ping");
  EXPECT_EQ(data, "pong");
  EXPECT_EQ(errors, "");
  EXPECT_TRUE(data_fin && error_fin) << "both streams end when the pod's side does";
}

}  // namespace
}  // namespace crisp::crispd
