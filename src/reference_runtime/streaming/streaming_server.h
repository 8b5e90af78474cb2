// crispd's streaming server: where the URLs of Exec, Attach and PortForward
// lead. It speaks the Kubernetes channel protocol over WebSocket,
// subprotocol v4.channel.k8s.io (exec and attach: 0 stdin, 1 stdout,
// 2 stderr, 3 a v4 Status with the exit code, 4 terminal resizes as
// {"Width","Height"}; port forward: 0 data, 1 errors, each opened with the
// port as a little-endian uint16). The same URLs serve SPDY/3.1 too
// (Upgrade: SPDY/3.1): a stream per channel, named by its streamtype
// header (spdy_link.h), and for port forwarding error and data stream
// pairs naming the port. A URL is good for one connection within its
// lifetime (a minute by default) of the RPC that made it.
//
// Each connection is served on its own thread and io_context, so a slow
// client holds up nobody else, and nothing it does reaches the gRPC side.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"

namespace boost::asio {
class io_context;
}

namespace crisp::crispd {

class IdleWatcher;  // streaming_server.cc

// `runc exec` of a running container, with the streams the request asked for.
// With a tty, argv passes `console_socket` to the runtime (ConsoleSocket()),
// which sends the terminal's master there and detaches, leaving the
// command's PID in `<console_socket>.pid`; stdout carries the terminal.
struct ExecTarget {
  std::vector<std::string> argv;
  bool stdin = false;
  bool stdout = false;
  bool stderr = false;
  bool tty = false;
  std::string console_socket = {};
};

// A running container's own stdio, through its monitor (conmon): the
// SOCK_SEQPACKET socket `attach` in `dir` (output packets start with 2 for
// stdout, 3 for stderr; what is written goes to the container's stdin), and
// the control FIFO `ctl` for resizes.
struct AttachTarget {
  std::string dir;
  bool stdin = false;
  bool stdout = false;
  bool stderr = false;
  bool tty = false;
};

// A network namespace held open: opened when PortForward answers, so the
// URL leads into the pod it was made for even if the path comes to name
// another namespace (or none) before the client connects.
class NetworkNamespace {
 public:
  static absl::StatusOr<std::shared_ptr<const NetworkNamespace>> Open(const std::string& path);
  ~NetworkNamespace();
  NetworkNamespace(const NetworkNamespace&) = delete;
  NetworkNamespace& operator=(const NetworkNamespace&) = delete;
  int fd() const { return fd_; }

 private:
  explicit NetworkNamespace(int fd) : fd_(fd) {}
  int fd_;
};

// TCP ports inside a pod's network namespace. As the kubelet's server
// does, a WebSocket client gets a pair of channels (data 2i, error 2i+1)
// for each port of the PortForward request, and a SPDY client names the
// port in each stream pair it opens (the request's list may be empty, as
// crictl and kubectl send it).
struct ForwardTarget {
  std::shared_ptr<const NetworkNamespace> netns;
  std::vector<int> ports;
};

struct StreamingOptions {
  std::string address = "127.0.0.1";                   // an IP address; the port is the kernel's pick
  std::chrono::seconds url_lifetime{60};                // a URL unused this long is gone (the kubelet's: 1 min)
  int max_sessions = 256;                               // connections served at once; more are refused
  // A session whose connection carries no data either way this long is
  // closed (the kubelet's streamingConnectionIdleTimeout, 4 h by default).
  std::chrono::seconds idle_timeout{4 * 3600};
  // Where the console sockets of exec sessions with a terminal are made
  // (0700, removed when the server ends; crispd: STATE/console, so that
  // `crispd reset` removes what a killed crispd left). Empty, or a path too
  // long for a socket in it: a fresh directory under /tmp.
  std::string console_dir{};
};

class StreamingServer {
 public:
  static absl::StatusOr<std::unique_ptr<StreamingServer>> Start(const StreamingOptions& options);
  // Listens on `address` (an IP address), on a port the kernel picks.
  static absl::StatusOr<std::unique_ptr<StreamingServer>> Start(const std::string& address) {
    return Start(StreamingOptions{.address = address});
  }
  ~StreamingServer();
  StreamingServer(const StreamingServer&) = delete;
  StreamingServer& operator=(const StreamingServer&) = delete;

  std::string ExecUrl(ExecTarget target);
  std::string AttachUrl(AttachTarget target);
  std::string PortForwardUrl(ForwardTarget target);
  // A fresh path for an exec's console socket, short enough for sun_path,
  // in a directory only crispd can enter.
  std::string ConsoleSocket();

 private:
  using Target = std::variant<ExecTarget, AttachTarget, ForwardTarget>;
  struct Pending {
    Target target;
    std::chrono::steady_clock::time_point expires;
  };

  struct Tokens {
    // The target of "/<kind>/<token>", once; nullopt if unknown, used or expired.
    std::optional<Target> Take(const std::string& path);
    std::mutex mutex;
    std::map<std::string, Pending> pending;  // by path
  };

  // The sessions running, so that the server's end ends them too.
  struct Sessions {
    int max_sessions = 256;
    bool Enter();  // false: too many, or stopping
    void Leave();
    bool Stopping();
    // A session's io_context, known while the session runs.
    class Registration {
     public:
      Registration(Sessions& sessions, boost::asio::io_context& io);
      ~Registration();

     private:
      Sessions& sessions_;
      boost::asio::io_context& io_;
    };
    std::mutex mutex;
    std::condition_variable ended;
    std::set<boost::asio::io_context*> running;
    int count = 0;
    bool stopping = false;
  };

  StreamingServer() = default;
  std::string NewUrl(const char* kind, Target target);
  void AcceptLoop();
  static void ServeConnection(int fd, Tokens& tokens, Sessions& sessions, IdleWatcher& idle);

  int listen_fd_ = -1;
  std::string base_;  // "http://127.0.0.1:PORT"
  std::string console_dir_;  // console sockets, removed with the server
  std::atomic<uint64_t> consoles_ = 0;
  std::chrono::seconds url_lifetime_{60};
  std::atomic<bool> stopping_ = false;
  std::thread acceptor_;
  std::shared_ptr<Tokens> tokens_ = std::make_shared<Tokens>();
  std::shared_ptr<Sessions> sessions_ = std::make_shared<Sessions>();
  std::shared_ptr<IdleWatcher> idle_;  // outlives the sessions that hold it
};

}  // namespace crisp::crispd
