// A client for the streaming server whose URLs Exec, Attach and PortForward
// return. It speaks the Kubernetes channel protocol over WebSocket
// ("v4.channel.k8s.io"): every message starts with one byte naming its
// channel. Exec and attach use channels 0 stdin, 1 stdout, 2 stderr,
// 3 status (a JSON Status in v4), 4 resize; a port forward uses 0 data and
// 1 error, each of which first carries the port as a little-endian uint16.
//
// A session writes at most one resize and one piece of input, and ends when the server
// closes it, when what it waits for has arrived, or at its deadline. It
// reports what each channel carried; transport failures go in `error`, since
// a URL that cannot be dialled or upgraded is the runtime's answer, not
// crisp's failure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace crisp::streaming {

// The one subprotocol crisp asks for and accepts.
inline constexpr char kChannelSubprotocol[] = "v4.channel.k8s.io";
// v4 plus a close signal: {255, c} says the client is done with channel c.
inline constexpr char kChannelSubprotocolV5[] = "v5.channel.k8s.io";

// How a session reaches the streaming server: WebSocket (one connection,
// one byte of channel per message) or SPDY/3.1 (a stream per channel, named
// by its streamtype header), as the kubelet's clients speak it.
enum class Transport { kWebSocket, kSpdy };

// Which streams an exec or attach has: over SPDY the client opens exactly
// these (the server waits for the set its request asked for).
struct RemoteCommandStreams {
  bool stdin = false;
  bool stdout = false;
  bool stderr = false;
  bool tty = false;
};

struct ChannelSessionRequest {
  std::string url;                   // http:// or ws://; https:// and wss:// are reported as unsupported
  Transport transport = Transport::kWebSocket;
  RemoteCommandStreams streams;      // SPDY only: exec and attach
  // A port forward: the pod's ports, channels 2i (data) and 2i+1 (error)
  // for the i-th. Over SPDY each pair of streams names its port; over
  // WebSocket the server took them from the PortForward request, and only
  // their number matters here. Empty: exec or attach (channels 0 to 4).
  std::vector<int> forward_ports;
  // Exec and attach: the subprotocols offered (WebSocket), or stream
  // protocols (SPDY's X-Stream-Protocol-Version), the preferred first.
  std::vector<std::string> subprotocols = {kChannelSubprotocol};
  std::optional<std::string> input;  // written on stdin, or on every port's data channel, once the stream is open
  int quiet_ms = 0;                  // wait this long before writing the input
  // After the input, end stdin: SPDY's FIN on the stdin stream, or v5's
  // close signal over WebSocket (v4 has no way to say it).
  bool close_stdin = false;
  // A terminal size {width, height} written on channel 4 (resize) as soon
  // as the stream is open, before the input, as a kubelet's client sends it.
  std::optional<std::pair<int, int>> resize;
  std::string until;                 // end once each of `until_channels` has carried this text
  std::vector<int> until_channels = {1};
  int timeout_ms = 10000;            // the whole session, from dialling to the end of the close handshake
  size_t max_capture = 1 << 20;      // kept of each channel (the rest is counted in byte_counts)
  size_t max_message = 1 << 20;      // a larger WebSocket message is refused
};

struct ChannelSessionResult {
  bool connected = false;            // the WebSocket upgrade succeeded
  std::string protocol;              // the subprotocol the server chose
  std::map<int, std::string> channels;        // what each channel carried, in order (max_capture each)
  std::map<int, uint64_t> byte_counts;        // how many bytes each channel carried, kept or not
  std::map<int, std::string> before_input;    // ... up to when the input was written
  std::string closed_by;             // "server", "crisp" (until met, deadline, a broken stream) or "" (never opened)
  bool timed_out = false;
  std::string error;                 // "" when the session ended cleanly
  bool port_prefixed = true;         // port forward: each channel opens with its port (WebSocket; not SPDY)
  std::optional<bool> stdin_closed;  // close_stdin asked: whether the protocol could say it
};

// Dials the URL, upgrades to WebSocket with kChannelSubprotocol (or to
// SPDY/3.1, offering it as X-Stream-Protocol-Version), writes the input and
// collects every channel until the session ends. Never throws; every
// problem of the server's making is in the result's `error`.
ChannelSessionResult RunChannelSession(const ChannelSessionRequest& request);

// The SPDY/3.1 form of RunChannelSession (spdy_session.cc): the streams are
// mapped onto the same channel numbers (0 stdin, 1 stdout, 2 stderr,
// 3 error, 4 resize; port forward: 2i data, 2i+1 error, with no port prefix).
ChannelSessionResult RunSpdyChannelSession(const ChannelSessionRequest& request);

// Exec or attach: {connected, protocol, stdout, stderr, exit_code, status,
// before_stdin, stdin_closed, closed_by, error}. exit_code comes from the v4 Status on
// channel 3 (0 for Success, the ExitCode cause for NonZeroExitCode), null
// when no status came. When crisp ended the stream because stdout carried
// `until`, stdout ends with that text's first occurrence, and what came
// after it (in the same read: the timing of reads decides) is `after_until`.
nlohmann::json RemoteCommandResult(const ChannelSessionResult& session, const std::string& until = "");

// Port forward: {connected, protocol, port, error_port, data, errors,
// forwards, closed_by, error}; `forwards` has {port, error_port, data,
// errors} for each port, and the keys outside it are the first port's.
// The port each channel opens with (WebSocket) is taken off data (port)
// and errors (error_port); over SPDY they are null.
nlohmann::json PortForwardResult(const ChannelSessionResult& session, size_t ports = 1);

// Whether each of the request's until_channels has carried its `until`.
bool UntilMetOn(const ChannelSessionRequest& request, const ChannelSessionResult& result);

// The exit code a v4 Status document carries (nullopt if it carries none).
std::optional<int> ExitCodeOfStatus(const std::string& status);

}  // namespace crisp::streaming
