#include "harness/streaming/channel_session.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <functional>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crisp::streaming {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using ::testing::HasSubstr;
using nlohmann::json;
using Socket = websocket::stream<tcp::socket>;

// A one-connection stand-in for a runtime's streaming server: it accepts the
// upgrade (choosing the subprotocol crisp asks for) and plays `script`.
class FakeStreamServer {
 public:
  explicit FakeStreamServer(std::function<void(Socket&)> script, std::string subprotocol = "v4.channel.k8s.io")
      : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), port_(acceptor_.local_endpoint().port()) {
    thread_ = std::thread([this, script = std::move(script), subprotocol] {
      try {
        tcp::socket socket(io_);
        acceptor_.accept(socket);
        Socket ws(std::move(socket));
        ws.set_option(websocket::stream_base::decorator([subprotocol](websocket::response_type& answer) {
          if (!subprotocol.empty()) answer.set(http::field::sec_websocket_protocol, subprotocol);
        }));
        ws.accept();
        ws.binary(true);
        script(ws);
      } catch (const std::exception&) {
        // The client went away: what the test checks is on its side.
      }
    });
  }
  ~FakeStreamServer() { thread_.join(); }

  std::string Url(std::string_view path = "/exec/token") const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }

 private:
  asio::io_context io_;
  tcp::acceptor acceptor_;
  int port_;
  std::thread thread_;
};

ChannelSessionRequest Request(std::string url, int timeout_ms = 5000) {
  ChannelSessionRequest request;
  request.url = std::move(url);
  request.timeout_ms = timeout_ms;
  return request;
}

void Send(Socket& ws, int channel, std::string_view data) {
  std::string message(1, static_cast<char>(channel));
  message.append(data);
  ws.write(asio::buffer(message));
}

std::string Receive(Socket& ws) {
  beast::flat_buffer buffer;
  ws.read(buffer);
  return beast::buffers_to_string(buffer.data());
}

// Reads until the client closes, as a server that waits on stdin does.
void DrainUntilClosed(Socket& ws) {
  for (;;) Receive(ws);
}

TEST(ChannelSessionTest, ExecOutputIsSplitByChannelAndTheStatusGivesTheExitCode) {
  FakeStreamServer server([](Socket& ws) {
    Send(ws, 1, "");  // the server's "ready" message
    Send(ws, 1, "hel");
    Send(ws, 2, "warning\n");
    Send(ws, 1, "lo");
    Send(ws, 3,
         R"({"metadata":{},"status":"Failure","message":"exit 7","reason":"NonZeroExitCode",)"
         R"("details":{"causes":[{"reason":"ExitCode","message":"7"}]}})");
    ws.close(websocket::close_code::normal);
  });
  json result = RemoteCommandResult(RunChannelSession(Request(server.Url())));
  EXPECT_EQ(result["connected"], true);
  EXPECT_EQ(result["protocol"], "v4.channel.k8s.io");
  EXPECT_EQ(result["stdout"], "hello");
  EXPECT_EQ(result["stderr"], "warning\n");
  EXPECT_EQ(result["exit_code"], 7);
  EXPECT_EQ(result["closed_by"], "server");
  EXPECT_EQ(result["error"], "");
}

TEST(ChannelSessionTest, InputIsWrittenAfterTheQuietTimeAndUntilEndsTheSession) {
  std::string received;
  {
    FakeStreamServer server([&received](Socket& ws) {
      Send(ws, 1, "");
      received = Receive(ws);
      Send(ws, 1, "hello\n/ # ");  // a prompt in the same message: timing
      DrainUntilClosed(ws);
    });
    ChannelSessionRequest request = Request(server.Url("/attach/token"));
    request.input = "echo hello\n";
    request.quiet_ms = 100;
    request.until = "hello\n";
    json result = RemoteCommandResult(RunChannelSession(request), request.until);
    EXPECT_EQ(result["before_stdin"], "");
    EXPECT_EQ(result["stdout"], "hello\n");
    EXPECT_EQ(result["after_until"], "/ # ");
    EXPECT_EQ(result["closed_by"], "crisp");
    EXPECT_EQ(result["error"], "");
    EXPECT_EQ(result["exit_code"], nullptr);
  }
  EXPECT_EQ(received, std::string("\0echo hello\n", 12));
}

TEST(ChannelSessionTest, AResizeGoesOnChannelFourBeforeTheInput) {
  std::string first, second;
  {
    FakeStreamServer server([&](Socket& ws) {
      first = Receive(ws);
      second = Receive(ws);
      Send(ws, 1, "45 123\r\n");
      DrainUntilClosed(ws);
    });
    ChannelSessionRequest request = Request(server.Url("/exec/token"));
    request.resize = std::make_pair(123, 45);
    request.input = "x";
    request.until = "45 123";
    json result = RemoteCommandResult(RunChannelSession(request));
    EXPECT_EQ(result["error"], "");
  }
  EXPECT_EQ(first, std::string("\4") + R"({"Height":45,"Width":123})");
  EXPECT_EQ(second, std::string("\0x", 2));
}

TEST(ChannelSessionTest, OutputBeforeTheInputIsKeptApart) {
  FakeStreamServer server([](Socket& ws) {
    Send(ws, 1, "prompt$ ");
    Receive(ws);
    Send(ws, 1, "done");
    Send(ws, 3, R"({"metadata":{},"status":"Success"})");
    ws.close(websocket::close_code::normal);
  });
  ChannelSessionRequest request = Request(server.Url());
  request.input = "x";
  request.quiet_ms = 200;
  json result = RemoteCommandResult(RunChannelSession(request));
  EXPECT_EQ(result["before_stdin"], "prompt$ ");
  EXPECT_EQ(result["stdout"], "prompt$ done");
  EXPECT_EQ(result["exit_code"], 0);
}

TEST(ChannelSessionTest, PortForwardTakesThePortPrefixOffBothChannels) {
  std::string request_seen;
  {
    FakeStreamServer server([&request_seen](Socket& ws) {
      Send(ws, 0, std::string("\x50\x00", 2));  // port 80, little-endian
      Send(ws, 1, std::string("\x50\x00", 2));
      request_seen = Receive(ws);
      Send(ws, 0, "HTTP/1.0 200 OK\r\n\r\nbody");
      Send(ws, 1, "");
      ws.close(websocket::close_code::normal);
    });
    ChannelSessionRequest request = Request(server.Url("/portforward/token"));
    request.forward_ports = {80};
    request.input = "GET / HTTP/1.0\r\n\r\n";
    json result = PortForwardResult(RunChannelSession(request));
    EXPECT_EQ(result["port"], 80);
    EXPECT_EQ(result["error_port"], 80);
    EXPECT_EQ(result["data"], "HTTP/1.0 200 OK\r\n\r\nbody");
    EXPECT_EQ(result["errors"], "");
    EXPECT_EQ(result["error"], "");
  }
  EXPECT_EQ(request_seen, std::string("\0GET / HTTP/1.0\r\n\r\n", 19));
}

TEST(ChannelSessionTest, AnotherSubprotocolOrNoneFailsTheSession) {
  for (std::string chosen : {"base64.channel.k8s.io", ""}) {
    FakeStreamServer server([](Socket& ws) { Send(ws, 1, "ignored"); }, chosen);
    ChannelSessionResult session = RunChannelSession(Request(server.Url()));
    EXPECT_TRUE(session.connected);
    EXPECT_THAT(session.error, HasSubstr("the server chose subprotocol \"" + chosen + "\", crisp asked for "
                                         "v4.channel.k8s.io"));
    EXPECT_TRUE(session.channels.empty());
  }
}

TEST(ChannelSessionTest, AChannelOutsideTheProtocolIsAnErrorAndNotKept) {
  FakeStreamServer server([](Socket& ws) {
    Send(ws, 200, "junk");
    Send(ws, 1, "ok");
    ws.close(websocket::close_code::normal);
  });
  ChannelSessionResult session = RunChannelSession(Request(server.Url()));
  EXPECT_THAT(session.error, HasSubstr("the server wrote on channel 200; the stream has channels 0 to 4"));
  EXPECT_EQ(session.channels.count(200), 0u);
  EXPECT_EQ(session.channels[1], "ok");
}

TEST(ChannelSessionTest, ATcpDropWithoutACloseFrameIsReported) {
  FakeStreamServer server([](Socket& ws) {
    Send(ws, 1, "partial");
    ws.next_layer().close();
  });
  ChannelSessionResult session = RunChannelSession(Request(server.Url()));
  EXPECT_EQ(session.channels[1], "partial");
  EXPECT_EQ(session.closed_by, "server");
  EXPECT_THAT(session.error, HasSubstr("without a WebSocket close"));
}

TEST(ChannelSessionTest, AMessageLargerThanTheLimitIsRefused) {
  FakeStreamServer server([](Socket& ws) {
    Send(ws, 1, std::string(5000, 'x'));
    DrainUntilClosed(ws);
  });
  ChannelSessionRequest request = Request(server.Url());
  request.max_message = 4096;
  ChannelSessionResult session = RunChannelSession(request);
  EXPECT_FALSE(session.error.empty());
  EXPECT_FALSE(session.timed_out);
  EXPECT_EQ(session.closed_by, "crisp");
}

TEST(ChannelSessionTest, ASilentServerEndsAtTheDeadline) {
  FakeStreamServer server([](Socket& ws) { DrainUntilClosed(ws); });
  ChannelSessionResult session = RunChannelSession(Request(server.Url(), 300));
  EXPECT_TRUE(session.connected);
  EXPECT_TRUE(session.timed_out);
  EXPECT_THAT(session.error, HasSubstr("timed out after 300 ms"));
  EXPECT_EQ(session.closed_by, "crisp");
}

TEST(ChannelSessionTest, ADeclinedUpgradeReportsTheHttpAnswer) {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  std::thread server([&] {
    tcp::socket socket(io);
    acceptor.accept(socket);
    beast::flat_buffer buffer;
    http::request<http::string_body> request;
    http::read(socket, buffer, request);
    http::response<http::string_body> answer(http::status::not_found, 11);
    answer.body() = "token expired";
    answer.prepare_payload();
    http::write(socket, answer);
  });
  ChannelSessionResult session = RunChannelSession(
      Request("http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()) + "/exec/x"));
  server.join();
  EXPECT_FALSE(session.connected);
  EXPECT_THAT(session.error, HasSubstr("HTTP 404"));
  EXPECT_THAT(session.error, HasSubstr("token expired"));
}

TEST(ChannelSessionTest, UnreachableAndUnsupportedUrlsAreErrorsNotCrashes) {
  // A port nothing listens on: bind one, then close it.
  int port;
  {
    asio::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = acceptor.local_endpoint().port();
  }
  EXPECT_THAT(RunChannelSession(Request("http://127.0.0.1:" + std::to_string(port) + "/x")).error,
              HasSubstr("cannot connect"));
  EXPECT_THAT(RunChannelSession(Request("https://127.0.0.1:1/x")).error, HasSubstr("TLS"));
  EXPECT_THAT(RunChannelSession(Request("127.0.0.1:1/x")).error, HasSubstr("not an http:// or ws:// URL"));
  EXPECT_THAT(RunChannelSession(Request("http://127.0.0.1:8x/x")).error, HasSubstr("bad port"));
  EXPECT_THAT(RunChannelSession(Request("http://[::1/x")).error, HasSubstr("unbalanced"));
}

TEST(ChannelSessionTest, ExitCodesComeFromV4StatusDocuments) {
  EXPECT_EQ(ExitCodeOfStatus(R"({"status":"Success"})"), 0);
  EXPECT_EQ(ExitCodeOfStatus(R"({"status":"Failure","reason":"NonZeroExitCode",)"
                             R"("details":{"causes":[{"reason":"ExitCode","message":"137"}]}})"),
            137);
  EXPECT_EQ(ExitCodeOfStatus(R"({"status":"Failure","reason":"InternalError","message":"boom"})"), std::nullopt);
  EXPECT_EQ(ExitCodeOfStatus(R"({"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"x"}]}})"),
            std::nullopt);
  EXPECT_EQ(ExitCodeOfStatus("not json"), std::nullopt);
  // The runtime's document, whatever its types: never a throw.
  for (const char* odd : {R"({"status":1})", R"({"status":null,"reason":"NonZeroExitCode"})",
                          R"({"reason":"NonZeroExitCode","details":"x"})",
                          R"({"reason":"NonZeroExitCode","details":{"causes":"x"}})",
                          R"({"reason":"NonZeroExitCode","details":{"causes":[1,{"reason":"ExitCode","message":7}]}})",
                          R"({"reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"99999999999"}]}})",
                          "[]", "7"}) {
    EXPECT_EQ(ExitCodeOfStatus(odd), std::nullopt) << odd;
  }
  EXPECT_EQ(ExitCodeOfStatus(""), std::nullopt);
}

TEST(ChannelSessionTest, OutputPastTheCaptureIsCountedNotKept) {
  FakeStreamServer server([](Socket& ws) {
    for (int i = 0; i < 3; ++i) Send(ws, 1, std::string(3000, 'x'));
    ws.close(websocket::close_code::normal);
  });
  ChannelSessionRequest request = Request(server.Url());
  request.max_capture = 4096;
  ChannelSessionResult session = RunChannelSession(request);
  EXPECT_EQ(session.error, "");
  EXPECT_EQ(session.channels[1].size(), 4096u);
  EXPECT_EQ(session.byte_counts[1], 9000u);
}

TEST(ChannelSessionTest, TwoForwardedPortsEachGetTheInputAndUntilWaitsForBoth) {
  std::string first_seen, second_seen;
  {
    FakeStreamServer server([&](Socket& ws) {
      for (int channel = 0; channel < 4; ++channel) {
        Send(ws, channel, channel < 2 ? std::string("\x50\x00", 2) : std::string("\x90\x1f", 2));  // 80, 8080
      }
      first_seen = Receive(ws);
      second_seen = Receive(ws);
      Send(ws, 0, "one</html>");
      Send(ws, 2, "two</html>");
      DrainUntilClosed(ws);
    });
    ChannelSessionRequest request = Request(server.Url("/portforward/token"));
    request.forward_ports = {80, 8080};
    request.input = "GET";
    request.until = "</html>";
    request.until_channels = {0, 2};
    json result = PortForwardResult(RunChannelSession(request), 2);
    ASSERT_EQ(result["forwards"].size(), 2u);
    EXPECT_EQ(result["forwards"][0]["port"], 80);
    EXPECT_EQ(result["forwards"][0]["data"], "one</html>");
    EXPECT_EQ(result["forwards"][1]["port"], 8080);
    EXPECT_EQ(result["forwards"][1]["error_port"], 8080);
    EXPECT_EQ(result["forwards"][1]["data"], "two</html>");
    EXPECT_EQ(result["data"], "one</html>");  // the first port's, outside `forwards`
    EXPECT_EQ(result["closed_by"], "crisp");
    EXPECT_EQ(result["error"], "");
  }
  EXPECT_EQ(first_seen, std::string("\0GET", 4));
  EXPECT_EQ(second_seen, std::string("\2GET", 4));
}

TEST(ChannelSessionTest, StdinIsClosedWithV5sSignalAndCannotBeOverV4) {
  for (std::string chosen : {"v5.channel.k8s.io", "v4.channel.k8s.io"}) {
    std::vector<std::string> seen;
    {
      FakeStreamServer server(
          [&seen](Socket& ws) {
            Send(ws, 1, "");
            seen.push_back(Receive(ws));
            if (seen.back()[0] == 0) {
              beast::flat_buffer buffer;
              ws.read(buffer);  // the close signal, if one comes
              seen.push_back(beast::buffers_to_string(buffer.data()));
            }
            Send(ws, 3, R"({"status":"Success"})");
            ws.close(websocket::close_code::normal);
          },
          chosen);
      ChannelSessionRequest request = Request(server.Url(), chosen == "v5.channel.k8s.io" ? 5000 : 500);
      request.subprotocols = {"v5.channel.k8s.io", "v4.channel.k8s.io"};
      request.input = "data";
      request.close_stdin = true;
      json result = RemoteCommandResult(RunChannelSession(request));
      EXPECT_EQ(result["protocol"], chosen);
      EXPECT_EQ(result["stdin_closed"], chosen == "v5.channel.k8s.io");
    }
    ASSERT_FALSE(seen.empty());
    EXPECT_EQ(seen[0], std::string("\0data", 5));
    if (chosen == "v5.channel.k8s.io") {
      ASSERT_EQ(seen.size(), 2u);
      EXPECT_EQ(seen[1], std::string("\xff\0", 2));
    }
  }
}

}  // namespace
}  // namespace crisp::streaming
