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

// WebSocket with the given subprotocols offered; the chosen one is kept.
struct WebSocketClient {
  asio::io_context io;
  websocket::stream<tcp::socket> ws{io};
  std::string protocol;

  explicit WebSocketClient(const std::string& url, const std::string& offered = "v4.channel.k8s.io") {
    Url parts = Split(url);
    tcp::resolver resolver(io);
    asio::connect(ws.next_layer(), resolver.resolve("127.0.0.1", parts.port));
    fcntl(ws.next_layer().native_handle(), F_SETFD, FD_CLOEXEC);
    ws.set_option(websocket::stream_base::decorator(
        [offered](websocket::request_type& request) { request.set(http::field::sec_websocket_protocol, offered); }));
    websocket::response_type answer;
    ws.handshake(answer, "127.0.0.1:" + parts.port, parts.path);
    protocol = std::string(answer[http::field::sec_websocket_protocol]);
    ws.binary(true);
  }
  void Write(int channel, const std::string& data) { ws.write(asio::buffer(std::string(1, static_cast<char>(channel)) + data)); }
  std::map<int, std::string> ReadToTheEnd() {
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
};

// A client of the channel protocol: writes `input` on channel 0, then reads
// every message until the server closes; channel -> what it carried.
std::map<int, std::string> Follow(const std::string& url, const std::string& input = "") {
  WebSocketClient client(url);
  if (!input.empty()) client.Write(0, input);
  return client.ReadToTheEnd();
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
  // In the Go struct's order, as the kubelet's server writes it.
  EXPECT_THAT(channels[3], HasSubstr(R"({"metadata":{},"status":"Failure",)"));
  EXPECT_THAT(channels[3], HasSubstr(R"("details":{"causes":[{"reason":"ExitCode","message":"3"}]}})"));

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
  std::error_code error;
  for (std::filesystem::directory_iterator it("/proc", error), end; !error && it != end; it.increment(error)) {
    // read(2), not a stream: reading the file of a process that just
    // exited fails with ESRCH, which libstdc++'s filebuf throws.
    int fd = open((it->path() / "cmdline").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    std::string text;
    char buffer[4096];
    for (ssize_t n; (n = read(fd, buffer, sizeof buffer)) > 0;) text.append(buffer, static_cast<size_t>(n));
    close(fd);
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
    // The command is spawned by this process: it must not inherit the
    // client's end (WebSocketClient sets FD_CLOEXEC), or closing it here
    // would not end the connection.
    WebSocketClient client("http://127.0.0.1:" + parts.port + parts.path);
    std::string out;
    while (out.find("started") == std::string::npos) {
      beast::flat_buffer buffer;
      client.ws.read(buffer);
      out += beast::buffers_to_string(buffer.data());
    }
    // "started" comes before the shell has exec'd sleep.
    bool running = false;
    for (int i = 0; i < 50 && !running; ++i) {
      running = Running("sleep 31.5");
      if (!running) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_TRUE(running);
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

std::shared_ptr<const NetworkNamespace> OwnNamespace() { return *NetworkNamespace::Open("/proc/self/ns/net"); }

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
  std::map<int, std::string> channels = Follow((*server)->PortForwardUrl({OwnNamespace(), {port}}), "ping");
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
  std::map<int, std::string> channels = Follow((*server)->PortForwardUrl({OwnNamespace(), {port}}));
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

// A SPDY client's connection: the upgrade for `protocol` (with `frames`
// right behind it, as clients may send them), and the frames after the 101.
struct SpdyClient {
  asio::io_context io;
  tcp::socket socket{io};
  std::string path;
  std::string protocol;
  spdy::HeaderCompressor compressor;
  bool upgraded = false;  // the server answered 101

  SpdyClient(const std::string& url, std::string protocol_name, int receive_buffer = 0) : protocol(std::move(protocol_name)) {
    Url parts = Split(url);
    path = parts.path;
    tcp::resolver resolver(io);
    socket.open(tcp::v4());
    fcntl(socket.native_handle(), F_SETFD, FD_CLOEXEC);
    if (receive_buffer > 0) socket.set_option(asio::socket_base::receive_buffer_size(receive_buffer));
    socket.connect(*resolver.resolve("127.0.0.1", parts.port).begin());
  }
  void Upgrade(const std::string& frames = "") {
    std::string upgrade = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n"
                          "Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: " + protocol + "\r\n\r\n";
    asio::write(socket, asio::buffer(upgrade + frames));
  }
  std::string Syn(uint32_t id, const spdy::Headers& headers) {
    return spdy::EncodeSynStream(id, *compressor.Compress(headers), false);
  }
  // Reads to the end of the connection; the frames after the 101.
  std::vector<spdy::Frame> ReadToTheEnd() {
    std::string bytes;
    char buffer[16 * 1024];
    beast::error_code ec;
    while (true) {
      size_t n = socket.read_some(asio::buffer(buffer), ec);
      if (ec) break;
      bytes.append(buffer, n);
    }
    std::vector<spdy::Frame> frames;
    size_t header_end = bytes.find("\r\n\r\n");
    upgraded = bytes.starts_with("HTTP/1.1 101");
    if (header_end == std::string::npos || !upgraded) return frames;
    spdy::FrameDecoder decoder;
    EXPECT_TRUE(decoder.Feed(std::string_view(bytes).substr(header_end + 4)).ok());
    while (std::optional<spdy::Frame> frame = decoder.Next()) frames.push_back(*std::move(frame));
    return frames;
  }
};

// A minimal SPDY/3.1 client, as client-go opens an exec: the upgrade, then
// a stream per channel, stdin written and half-closed, everything read to
// the server's close. Returns channel -> bytes (3: the status), and "101"
// under -1 when the upgrade was accepted.
std::map<int, std::string> FollowSpdy(const std::string& url, const std::vector<std::string>& types,
                                      const std::string& input = "") {
  SpdyClient client(url, "v4.channel.k8s.io");
  std::map<uint32_t, int> channel_of;
  uint32_t id = 1;
  std::string frames;
  for (const std::string& type : types) {
    int channel = type == "stdin" ? 0 : type == "stdout" ? 1 : type == "stderr" ? 2 : type == "error" ? 3 : 4;
    channel_of[id] = channel;
    frames += client.Syn(id, {{"streamtype", type}});
    if (type == "stdin") frames += spdy::EncodeData(id, input, /*fin=*/true);
    id += 2;
  }
  client.Upgrade(frames);
  std::map<int, std::string> channels;
  spdy::HeaderDecompressor decompressor;
  for (const spdy::Frame& frame : client.ReadToTheEnd()) {
    if (frame.control && frame.type == spdy::ControlType::kSynReply) {
      EXPECT_TRUE(decompressor.Decompress(frame.data).ok());
    } else if (!frame.control) {
      channels[channel_of[frame.stream_id]] += frame.data;
    }
  }
  if (client.upgraded) channels[-1] = "101";
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

// Console sockets go where crispd says (its state, which `crispd reset`
// clears after a SIGKILL) and leave with the server; a directory too long
// for a socket path falls back to a fresh one under /tmp.
TEST(StreamingServerTest, ConsoleSocketsLiveInTheGivenDirectoryAndLeaveWithTheServer) {
  absl::StatusOr<TempDir> temp = TempDir::Make("crispd-console-test");
  ASSERT_TRUE(temp.ok()) << temp.status();
  StreamingOptions options;
  options.console_dir = temp->path() + "/console";
  std::filesystem::create_directories(options.console_dir + "/stale");  // an earlier crispd's
  auto server = StreamingServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_THAT((*server)->ConsoleSocket(), ::testing::StartsWith(options.console_dir + "/"));
  EXPECT_FALSE(std::filesystem::exists(options.console_dir + "/stale"));
  EXPECT_EQ(std::filesystem::status(options.console_dir).permissions(), std::filesystem::perms::owner_all);
  server->reset();
  EXPECT_FALSE(std::filesystem::exists(options.console_dir));

  options.console_dir = temp->path() + "/" + std::string(100, 'x');
  auto fallback = StreamingServer::Start(options);
  ASSERT_TRUE(fallback.ok()) << fallback.status();
  std::string socket = (*fallback)->ConsoleSocket();
  EXPECT_THAT(socket, ::testing::StartsWith("/tmp/crispd-console-"));
  std::string dir = std::filesystem::path(socket).parent_path();
  fallback->reset();
  EXPECT_FALSE(std::filesystem::exists(dir));
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
  Url parts = Split((*server)->PortForwardUrl({OwnNamespace(), {}}));
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

TEST(StreamingServerTest, PortForwardOverWebSocketCarriesEachPortOfTheRequestOnItsOwnChannels) {
  asio::io_context io;
  tcp::acceptor first(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  tcp::acceptor second(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const int port1 = first.local_endpoint().port(), port2 = second.local_endpoint().port();
  std::string received1, received2;
  std::thread pod1 = ServeOnePong(io, first, &received1);
  std::thread pod2 = ServeOnePong(io, second, &received2);
  auto server = StreamingServer::Start("127.0.0.1");
  ASSERT_TRUE(server.ok()) << server.status();
  WebSocketClient client((*server)->PortForwardUrl({OwnNamespace(), {port1, port2}}));
  client.Write(0, "ping-1");
  client.Write(2, "ping-2");
  std::map<int, std::string> channels = client.ReadToTheEnd();
  pod1.join();
  pod2.join();
  auto prefix = [](int port) { return std::string{static_cast<char>(port & 0xff), static_cast<char>(port >> 8)}; };
  EXPECT_EQ(received1, "ping-1");
  EXPECT_EQ(received2, "ping-2");
  EXPECT_EQ(channels[0], prefix(port1) + "pong");
  EXPECT_EQ(channels[1], prefix(port1));
  EXPECT_EQ(channels[2], prefix(port2) + "pong");
  EXPECT_EQ(channels[3], prefix(port2));
}

TEST(StreamingServerTest, APortForwardOverWebSocketWithoutPortsIsABadRequest) {
  auto server = StreamingServer::Start("127.0.0.1");
  ASSERT_TRUE(server.ok()) << server.status();
  Url parts = Split((*server)->PortForwardUrl({OwnNamespace(), {}}));
  asio::io_context io;
  tcp::resolver resolver(io);
  tcp::socket socket(io);
  asio::connect(socket, resolver.resolve("127.0.0.1", parts.port));
  http::request<http::empty_body> request(http::verb::get, parts.path, 11);
  request.set(http::field::host, "127.0.0.1");
  request.set(http::field::connection, "Upgrade");
  request.set(http::field::upgrade, "websocket");
  request.set(http::field::sec_websocket_version, "13");
  request.set(http::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
  request.set(http::field::sec_websocket_protocol, "v4.channel.k8s.io");
  http::write(socket, request);
  beast::flat_buffer buffer;
  http::response<http::string_body> answer;
  http::read(socket, buffer, answer);
  EXPECT_EQ(answer.result_int(), 400);
  EXPECT_THAT(answer.body(), HasSubstr("named none"));
}

TEST(StreamingServerTest, V5IsChosenWhenOfferedFirstAndItsCloseSignalEndsStdin) {
  auto server = StreamingServer::Start("127.0.0.1");
  ASSERT_TRUE(server.ok()) << server.status();
  // cat ends only when its stdin does.
  WebSocketClient client((*server)->ExecUrl({.argv = {"/bin/cat"}, .stdin = true, .stdout = true}),
                         "v5.channel.k8s.io, v4.channel.k8s.io");
  EXPECT_EQ(client.protocol, "v5.channel.k8s.io");
  client.Write(0, "one\n");
  client.Write(255, std::string(1, '\0'));
  std::map<int, std::string> channels = client.ReadToTheEnd();
  EXPECT_EQ(channels[1], "one\n");
  EXPECT_THAT(channels[3], HasSubstr("Success"));
  // A port forward has no v5: v4 is chosen.
  WebSocketClient forward((*server)->PortForwardUrl({OwnNamespace(), {1}}), "v5.channel.k8s.io, v4.channel.k8s.io");
  EXPECT_EQ(forward.protocol, "v4.channel.k8s.io");
}

// The hostile-peer tests below run a server whose sessions may idle 1 s.
std::unique_ptr<StreamingServer> IdleServer() {
  auto server = StreamingServer::Start(StreamingOptions{.address = "127.0.0.1", .idle_timeout = std::chrono::seconds(1)});
  EXPECT_TRUE(server.ok()) << server.status();
  return *std::move(server);
}

bool GoneWithin(const std::string& cmdline, std::chrono::seconds within) {
  const auto until = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < until) {
    if (!Running(cmdline)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

TEST(StreamingServerTest, AnIdleSessionIsClosedAndItsCommandKilled) {
  std::unique_ptr<StreamingServer> server = IdleServer();
  WebSocketClient client(server->ExecUrl({.argv = {"/bin/sh", "-c", "echo started; exec sleep 32.5"}, .stdout = true}));
  const auto start = std::chrono::steady_clock::now();
  std::map<int, std::string> channels = client.ReadToTheEnd();  // says nothing, reads to the end
  EXPECT_EQ(channels[1], "started\n");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(8));
  EXPECT_TRUE(GoneWithin("sleep 32.5", std::chrono::seconds(5)));
}

TEST(StreamingServerTest, AClientThatConnectsAndSaysNothingIsDropped) {
  std::unique_ptr<StreamingServer> server = IdleServer();
  Url parts = Split(server->ExecUrl({.argv = {"/bin/true"}, .stdout = true}));
  asio::io_context io;
  tcp::resolver resolver(io);
  tcp::socket silent(io);
  asio::connect(silent, resolver.resolve("127.0.0.1", parts.port));
  const auto start = std::chrono::steady_clock::now();
  char byte;
  beast::error_code ec;
  silent.read_some(asio::buffer(&byte, 1), ec);
  EXPECT_TRUE(ec == asio::error::eof || ec == asio::error::connection_reset) << ec.message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(StreamingServerTest, AClientWhoseWindowNeverOpensIsDroppedAndItsCommandKilled) {
  std::unique_ptr<StreamingServer> server = IdleServer();
  std::string url = server->ExecUrl({.argv = {"/bin/sh", "-c", "exec yes crisp-window-zero-test"}, .stdout = true});
  SpdyClient client(url, "v4.channel.k8s.io", /*receive_buffer=*/4096);
  client.Upgrade();
  // A window of 0 for every stream, never opened by a WINDOW_UPDATE; and
  // nothing is read, so the kernel's window shuts too.
  std::string frames = spdy::EncodeSettings({{7, 0}});  // SETTINGS_INITIAL_WINDOW_SIZE
  frames += client.Syn(1, {{"streamtype", "error"}});
  frames += client.Syn(3, {{"streamtype", "stdout"}});
  asio::write(client.socket, asio::buffer(frames));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_TRUE(Running("yes crisp-window-zero-test"));
  EXPECT_TRUE(GoneWithin("yes crisp-window-zero-test", std::chrono::seconds(10)));
}

TEST(StreamingServerTest, TenThousandStreamsOnAnExecAreAnsweredAndTheCommandStillReports) {
  auto server = StreamingServer::Start("127.0.0.1");
  ASSERT_TRUE(server.ok()) << server.status();
  std::string url = (*server)->ExecUrl({.argv = {"/bin/sh", "-c", "read line; echo got:$line"}, .stdin = true, .stdout = true});
  SpdyClient client(url, "v4.channel.k8s.io");
  client.Upgrade();
  // One at a time: the header compressor is one zlib stream.
  std::string frames = client.Syn(1, {{"streamtype", "error"}});
  frames += client.Syn(3, {{"streamtype", "stdin"}});
  frames += client.Syn(5, {{"streamtype", "stdout"}});
  for (uint32_t id = 7; id < 7 + 2 * 10000; id += 2) frames += client.Syn(id, {{"streamtype", "stdout"}});
  frames += spdy::EncodeData(3, "hello\n", true);
  std::thread writer([&] { asio::write(client.socket, asio::buffer(frames)); });
  std::vector<spdy::Frame> answer = client.ReadToTheEnd();
  writer.join();
  EXPECT_TRUE(client.upgraded);
  std::string out, status;
  size_t replies = 0;
  for (const spdy::Frame& frame : answer) {
    if (frame.control && frame.type == spdy::ControlType::kSynReply) ++replies;
    if (!frame.control && frame.stream_id == 5) out += frame.data;
    if (!frame.control && frame.stream_id == 1) status += frame.data;
  }
  EXPECT_EQ(out, "got:hello\n");
  EXPECT_THAT(status, HasSubstr("Success"));
  EXPECT_GE(replies, 3u);
}

TEST(StreamingServerTest, TenThousandPortForwardStreamsAreServedOrRefusedWithinBounds) {
  int port;
  {
    asio::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = acceptor.local_endpoint().port();
  }  // nothing listens there: each whole pair fails at once
  auto server = StreamingServer::Start("127.0.0.1");
  ASSERT_TRUE(server.ok()) << server.status();
  SpdyClient client((*server)->PortForwardUrl({OwnNamespace(), {}}), "portforward.k8s.io");
  client.Upgrade();
  // 5,000 pairs of which only the error stream ever comes (never whole,
  // never connected), then GOAWAY.
  std::string frames;
  for (uint32_t i = 0; i < 10000; i += 2) {
    frames += client.Syn(2 * i + 1, {{"streamtype", "error"}, {"port", std::to_string(port)}, {"requestid", std::to_string(i)}});
  }
  frames += spdy::EncodeGoAway(0, spdy::GoAwayStatus::kOk);
  std::thread writer([&] { asio::write(client.socket, asio::buffer(frames)); });
  std::vector<spdy::Frame> answer = client.ReadToTheEnd();
  writer.join();
  EXPECT_TRUE(client.upgraded);
  size_t replies = 0, refused = 0;
  for (const spdy::Frame& frame : answer) {
    if (frame.control && frame.type == spdy::ControlType::kSynReply) ++replies;
    if (frame.control && frame.type == spdy::ControlType::kRstStream) ++refused;
  }
  EXPECT_EQ(replies, 128u);  // kMaxPairs incomplete pairs are held, no more
  EXPECT_EQ(refused, 5000u - 128u);
}

}  // namespace
}  // namespace crisp::crispd
