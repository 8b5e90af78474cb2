#include "reference_runtime/streaming/streaming_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/random.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/tcp.h>
#include <termios.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <deque>
#include <functional>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/strings.h"
#include "common/subprocess.h"
#include "nlohmann/json.hpp"
#include "reference_runtime/streaming/spdy_link.h"

namespace crisp::crispd {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

}  // namespace

// Ends sessions whose connection has carried no data either way for the
// idle timeout. The kernel keeps the count (TCP_INFO's last_data_recv and
// last_data_sent, in ms), so every kind of session over both transports is
// watched alike and none has to report its traffic; a peer whose window
// stays shut (nothing can be sent) or that never writes is idle. One
// thread for the server looks at each watched connection a few times per
// timeout; an idle one is shut down both ways, which its session sees as
// the client's end, and its io_context is stopped 5 s later if it has not
// ended by then.
class IdleWatcher {
  struct Entry {
    asio::io_context* io;
    int fd;
    std::optional<std::chrono::steady_clock::time_point> shut_at;
  };

 public:
  explicit IdleWatcher(std::chrono::milliseconds timeout) : timeout_(timeout) {
    thread_ = std::thread([this] { Loop(); });
  }
  std::chrono::milliseconds timeout() const { return timeout_; }

  ~IdleWatcher() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

  // A connection watched while this lives; it must end before the socket
  // is closed, so that a reused descriptor is never shut down.
  class Watch {
   public:
    Watch(IdleWatcher& watcher, asio::io_context& io, int fd) : watcher_(watcher), entry_{&io, fd, {}} {
      std::lock_guard lock(watcher_.mutex_);
      watcher_.entries_.insert(&entry_);
    }
    ~Watch() {
      std::lock_guard lock(watcher_.mutex_);
      watcher_.entries_.erase(&entry_);
    }
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;

   private:
    IdleWatcher& watcher_;
    Entry entry_;
  };

 private:
  void Loop() {
    const auto period = std::clamp<std::chrono::milliseconds>(timeout_ / 4, std::chrono::milliseconds(100),
                                                              std::chrono::milliseconds(30000));
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, period, [this] { return stopping_; })) {
      const auto now = std::chrono::steady_clock::now();
      for (Entry* entry : entries_) {
        if (entry->shut_at) {
          if (now - *entry->shut_at > std::chrono::seconds(5)) entry->io->stop();
          continue;
        }
        tcp_info info{};
        socklen_t size = sizeof info;
        if (getsockopt(entry->fd, IPPROTO_TCP, TCP_INFO, &info, &size) != 0) continue;
        const std::chrono::milliseconds idle(std::min(info.tcpi_last_data_recv, info.tcpi_last_data_sent));
        if (idle < timeout_) continue;
        std::cerr << "crispd: streaming: a session idle for " << idle.count() / 1000 << " s is closed" << std::endl;
        shutdown(entry->fd, SHUT_RDWR);
        entry->shut_at = now;
      }
    }
  }

  const std::chrono::milliseconds timeout_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::set<Entry*> entries_;
  std::thread thread_;
};

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

constexpr char kSubprotocol[] = "v4.channel.k8s.io";
constexpr char kSubprotocolV5[] = "v5.channel.k8s.io";
constexpr unsigned char kCloseChannel = 255;  // v5: {255, c} closes the client's channel c
constexpr int kRequestTimeoutSeconds = 10;  // to send the upgrade request
constexpr size_t kMaxMessage = 1 << 20;       // from the client
constexpr size_t kMaxQueued = 4;              // messages waiting, each way

// The WebSocket side of a session, shared by exec and port forward: one
// write at a time from a queue, and a close once the queue has drained.
class Channels {
 public:
  explicit Channels(websocket::stream<tcp::socket>& ws) : ws_(ws) {}

  void Send(int channel, std::string_view data) {
    if (closing_) return;
    std::string message(1, static_cast<char>(channel));
    message.append(data);
    queue_.push_back(std::move(message));
    if (queue_.size() == 1) WriteFront();
  }

  // Runs `resume` once fewer than kMaxQueued messages wait: the command's
  // or the pod's output is read no faster than the client takes it.
  void WhenWritable(std::function<void()> resume) {
    if (closing_ || queue_.size() < kMaxQueued) return resume();
    waiting_.push_back(std::move(resume));
  }

  // Closes after what is queued has been written.
  void CloseWhenDrained() {
    close_requested_ = true;
    if (queue_.empty()) Close();
  }

  bool closed() const { return closing_; }

 private:
  void WriteFront() {
    ws_.async_write(asio::buffer(queue_.front()), [this](beast::error_code ec, size_t) {
      queue_.pop_front();
      if (ec) {
        closing_ = true;
        queue_.clear();
      }
      if (closing_ || queue_.size() < kMaxQueued) Resume();
      if (ec) return;
      if (!queue_.empty()) return WriteFront();
      if (close_requested_) Close();
    });
  }

  void Resume() {
    std::vector<std::function<void()>> waiting;
    waiting.swap(waiting_);
    for (auto& resume : waiting) resume();
  }

  void Close() {
    if (closing_) return;
    closing_ = true;
    ws_.async_close(websocket::close_code::normal, [](beast::error_code) {});
  }

  websocket::stream<tcp::socket>& ws_;
  std::deque<std::string> queue_;
  std::vector<std::function<void()>> waiting_;
  bool close_requested_ = false;
  bool closing_ = false;
};

// The client's side of a session: what it sends on channel 0, written in
// order to `sink` (the command's stdin, the pod's connection). Reading
// pauses while kMaxQueued messages wait, so a sink that does not read stops
// the client, not crispd's memory. `on_end` runs when the client is gone;
// `on_resize` gets each channel-4 message (a terminal size), if set.
template <typename Sink>
class Inbound {
 public:
  Inbound(websocket::stream<tcp::socket>& ws, Sink& sink, std::function<void()> on_end,
          std::function<void(const std::string&)> on_resize = nullptr)
      : ws_(ws), sink_(sink), on_end_(std::move(on_end)), on_resize_(std::move(on_resize)) {}

  void Start() { Read(); }

 private:
  void Read() {
    ws_.async_read(incoming_, [this](beast::error_code ec, size_t) {
      if (ec) return on_end_();
      std::string message = beast::buffers_to_string(incoming_.data());
      incoming_.consume(incoming_.size());
      if (message.size() > 1 && message[0] == 0 && sink_.is_open()) {
        queue_.push_back(message.substr(1));
        if (queue_.size() == 1) Write();
      } else if (message.size() > 1 && message[0] == 4 && on_resize_) {
        on_resize_(message.substr(1));
      } else if (message.size() == 2 && static_cast<unsigned char>(message[0]) == kCloseChannel && message[1] == 0) {
        // v5: the client is done with stdin; the command sees its end once
        // what came before is written.
        stdin_closed_ = true;
        if (queue_.empty()) CloseSink();
      }
      if (queue_.size() < kMaxQueued) return Read();
      paused_ = true;
    });
  }

  void Write() {
    asio::async_write(sink_, asio::buffer(queue_.front()), [this](beast::error_code ec, size_t) {
      queue_.pop_front();
      if (ec) queue_.clear();
      if (!queue_.empty()) Write();
      if (queue_.empty() && stdin_closed_) CloseSink();
      if (paused_ && queue_.size() < kMaxQueued) {
        paused_ = false;
        Read();
      }
    });
  }

  void CloseSink() {
    beast::error_code ignored;
    if (sink_.is_open()) sink_.close(ignored);
  }

  websocket::stream<tcp::socket>& ws_;
  Sink& sink_;
  std::function<void()> on_end_;
  std::function<void(const std::string&)> on_resize_;
  beast::flat_buffer incoming_;
  std::deque<std::string> queue_;
  bool paused_ = false;
  bool stdin_closed_ = false;
};

// The client's side of an exec or attach session over WebSocket: Channels
// out, Inbound in. SpdyLink (spdy_link.h) is the same over SPDY/3.1.
template <typename Sink>
class WebSocketLink {
 public:
  using Connection = websocket::stream<tcp::socket>;
  WebSocketLink(Connection& ws, Sink& sink, std::function<void()> on_end,
                std::function<void(const std::string&)> on_resize = nullptr)
      : ws_(ws), channels_(ws), inbound_(ws, sink, std::move(on_end), std::move(on_resize)) {}

  void Send(int channel, std::string_view data) { channels_.Send(channel, data); }
  void WhenWritable(std::function<void()> resume) { channels_.WhenWritable(std::move(resume)); }
  void CloseWhenDrained() { channels_.CloseWhenDrained(); }
  bool closed() const { return channels_.closed(); }
  void Start() { inbound_.Start(); }
  // The client is gone: drop the connection without a closing handshake.
  void Abort() {
    beast::error_code ignored;
    if (!channels_.closed()) ws_.next_layer().close(ignored);
  }

 private:
  Connection& ws_;
  Channels channels_;
  Inbound<Sink> inbound_;
};

std::string StatusDocument(const ExitStatus& exit) {
  // In the order of the Go struct, as the kubelet's server writes it.
  nlohmann::ordered_json status = {{"metadata", nlohmann::ordered_json::object()}};
  int code = exit.ShellCode();
  if (code == 0) {
    status["status"] = "Success";
  } else {
    status["status"] = "Failure";
    status["message"] = crisp::StrCat("command terminated with non-zero exit code: ", code);
    status["reason"] = "NonZeroExitCode";
    status["details"] = {{"causes", {{{"reason", "ExitCode"}, {"message", std::to_string(code)}}}}};
  }
  return status.dump();
}

// {"Width": 80, "Height": 24} (a v4 TerminalSize); nullopt if it is not one.
std::optional<winsize> TerminalSize(const std::string& text) {
  nlohmann::json size = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!size.is_object() || !size.value("Width", nlohmann::json()).is_number_unsigned() ||
      !size.value("Height", nlohmann::json()).is_number_unsigned()) {
    return std::nullopt;
  }
  winsize out{};
  out.ws_col = static_cast<unsigned short>(std::min<uint64_t>(size["Width"].get<uint64_t>(), 0xffff));
  out.ws_row = static_cast<unsigned short>(std::min<uint64_t>(size["Height"].get<uint64_t>(), 0xffff));
  return out;
}

// Waits (up to `within`, and while `child` runs) for the OCI runtime to
// connect to the console socket and send the terminal's master; -1 and
// `error` otherwise.
int ReceiveConsole(int listener, Child& child, absl::Duration within, std::string* error) {
  const absl::Time until = absl::Now() + within;
  while (true) {
    pollfd fds[2] = {{listener, POLLIN, 0}, {child.pidfd(), POLLIN, 0}};
    int ready = poll(fds, 2, 100);
    if (ready > 0 && (fds[0].revents & POLLIN)) break;
    if (ready > 0 && (fds[1].revents & POLLIN)) {
      *error = "the runtime ended before it sent the terminal";
      return -1;
    }
    if (absl::Now() >= until) {
      *error = "the runtime sent no terminal in time";
      return -1;
    }
  }
  int connection = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  if (connection < 0) {
    *error = crisp::StrCat("console socket: ", std::strerror(errno));
    return -1;
  }
  char name[256];
  char control[CMSG_SPACE(sizeof(int))] = {};
  iovec io{name, sizeof name};
  msghdr message{};
  message.msg_iov = &io;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  ssize_t got = recvmsg(connection, &message, MSG_CMSG_CLOEXEC);
  close(connection);
  cmsghdr* header = got >= 0 ? CMSG_FIRSTHDR(&message) : nullptr;
  if (header == nullptr || header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) {
    *error = "the runtime sent no terminal over the console socket";
    return -1;
  }
  int master = -1;
  std::memcpy(&master, CMSG_DATA(header), sizeof master);
  return master;
}

int ListenUnix(const std::string& path, int type, std::string* error) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof address.sun_path) {
    *error = crisp::StrCat(path, " is too long for a socket path");
    return -1;
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || listen(fd, 1) != 0) {
    *error = crisp::StrCat("listening on ", path, ": ", std::strerror(errno));
    if (fd >= 0) close(fd);
    return -1;
  }
  return fd;
}

// Exec: the command's pipes (or its terminal) on one side, the client's
// link (WebSocket or SPDY) on the other.
template <template <typename> class Link>
class ExecSession {
 public:
  using Connection = typename Link<asio::posix::stream_descriptor>::Connection;
  ExecSession(asio::io_context& io, Connection& connection, const ExecTarget& target)
      : io_(io), target_(target), in_(io), out_(io), err_(io), exit_watch_(io), linger_(io),
        link_(connection, in_, [this] { ClientGone(); },
              [this](const std::string& size) {
                if (resize_) resize_(size);
              }) {}

  void Run() {
    if (target_.tty) return RunWithTerminal();
    SpawnOptions options;
    options.argv = target_.argv;
    options.in = target_.stdin ? Stdio::Pipe() : Stdio::Null();
    options.out = Stdio::Pipe();
    options.err = Stdio::Pipe();
    // Its own process group: runc, and the command it starts, go together.
    options.own_process_group = true;
    absl::StatusOr<Child> child = Child::Spawn(options);
    if (!child.ok()) return Fail(std::string(child.status().message()));
    child_ = std::move(*child);
    if (target_.stdin) in_.assign(child_->TakeStdin());
    out_.assign(child_->TakeStdout());
    err_.assign(child_->TakeStderr());
    // The first message tells the client the stream is open.
    link_.Send(target_.stdout ? 1 : target_.stderr ? 2 : 3, "");
    Pump(out_, 1, target_.stdout, out_buffer_);
    Pump(err_, 2, target_.stderr, err_buffer_);
    WatchExit();
    link_.Start();
    io_.run();
    if (child_ && !child_->reaped()) {  // the client went away first
      KillCommand();
      child_->Wait();
    }
  }

  // Kills runc and the command it started (and whatever that forked): the
  // process group. Killing runc alone would orphan the command to crispd.
  void KillCommand() {
    if (child_) child_->Signal(SIGKILL);
    if (command_.valid() && !command_.HasExited()) command_.Signal(SIGKILL);
  }

 private:
  // The runtime makes the terminal, sends its master to the console
  // socket and detaches; the command is then ours (crispd is the child
  // subreaper) and held by pidfd. The master is both stdin and stdout, and
  // channel 4 resizes it.
  void RunWithTerminal() {
    std::string error;
    int listener = ListenUnix(target_.console_socket, SOCK_STREAM, &error);
    if (listener < 0) return Fail(error);
    SpawnOptions options;
    options.argv = target_.argv;
    options.in = Stdio::Null();
    options.out = Stdio::Null();
    options.err = Stdio::Pipe();
    absl::StatusOr<Child> runtime = Child::Spawn(options);
    if (!runtime.ok()) {
      close(listener);
      unlink(target_.console_socket.c_str());
      return Fail(std::string(runtime.status().message()));
    }
    int master = ReceiveConsole(listener, *runtime, absl::Seconds(10), &error);
    close(listener);
    unlink(target_.console_socket.c_str());
    if (master < 0) runtime->Signal(SIGKILL);
    ExitStatus runtime_exit = runtime->Wait();
    // What the runtime said on its way out says why, when it failed.
    int stderr_fd = runtime->TakeStderr();
    std::string said(4096, '\0');
    ssize_t n = stderr_fd >= 0 ? read(stderr_fd, said.data(), said.size()) : -1;
    if (stderr_fd >= 0) close(stderr_fd);
    said.resize(n > 0 ? static_cast<size_t>(n) : 0);
    std::string pid_file = target_.console_socket + ".pid";
    int pid = 0;
    std::ifstream(pid_file) >> pid;
    unlink(pid_file.c_str());
    if (master >= 0 && runtime_exit.success() && pid > 0) {
      absl::StatusOr<AdoptedProcess> command = AdoptedProcess::Open(pid);
      if (command.ok()) command_ = std::move(*command);
    }
    if (!command_.valid()) {
      if (master >= 0) close(master);
      if (error.empty()) error = crisp::StrCat("the runtime did not start the command (", runtime_exit.Describe(), ")");
      return Fail(said.empty() ? error : crisp::StrCat(error, ": ", said));
    }
    int reader = dup(master);
    in_.assign(master);
    out_.assign(reader);
    resize_ = [this](const std::string& text) {
      if (std::optional<winsize> size = TerminalSize(text); size && in_.is_open()) {
        ioctl(in_.native_handle(), TIOCSWINSZ, &*size);
      }
    };
    link_.Send(1, "");
    ++ended_;  // no stderr to wait for: the terminal is the only output
    Pump(out_, 1, target_.stdout, out_buffer_);
    link_.Start();
    io_.run();
    if (!reported_) {  // the client went away first
      KillCommand();
      AwaitCommand();
    }
  }

  // The terminal's command, once its terminal has closed: it has exited, or
  // is about to.
  ExitStatus AwaitCommand() {
    for (int i = 0; i < 500 && !command_.HasExited(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::optional<ExitStatus> status = command_.PeekExit();
    command_.TryReap();
    return status.value_or(ExitStatus{});
  }

  void Fail(const std::string& message) {
    link_.Send(3, nlohmann::json{{"metadata", nlohmann::json::object()},
                                     {"status", "Failure"},
                                     {"reason", "InternalError"},
                                     {"message", message}}
                          .dump());
    link_.CloseWhenDrained();
    io_.run();
  }

  void Pump(asio::posix::stream_descriptor& pipe, int channel, bool wanted, std::array<char, 32 * 1024>& buffer) {
    pipe.async_read_some(asio::buffer(buffer), [this, &pipe, channel, wanted, &buffer](beast::error_code ec, size_t n) {
      if (ec) {
        if (++ended_ == 2) {
          beast::error_code ignored;
          exit_watch_.close(ignored);  // nothing left to wait for
          linger_.cancel();
          Exited();
        }
        return;
      }
      if (wanted) link_.Send(channel, std::string_view(buffer.data(), n));
      link_.WhenWritable([this, &pipe, channel, wanted, &buffer] { Pump(pipe, channel, wanted, buffer); });
    });
  }

  // The command's end is its exit, not the end of its pipes: a child it
  // left in the background may hold them open for ever. Once runc exec (and
  // so the command) has exited, what is already in the pipes is read for a
  // moment, then the status goes out and the session ends.
  void WatchExit() {
    int pidfd = dup(child_->pidfd());
    if (pidfd < 0) return;  // then the pipes' end is the only sign, as before
    exit_watch_.assign(pidfd);
    exit_watch_.async_wait(asio::posix::stream_descriptor::wait_read, [this](beast::error_code ec) {
      if (ec) return;
      linger_.expires_after(std::chrono::milliseconds(200));
      linger_.async_wait([this](beast::error_code wait_ec) {
        if (wait_ec || ended_ >= 2) return;
        ended_ = 2;
        Exited();
        beast::error_code ignored;
        out_.close(ignored);
        err_.close(ignored);
      });
    });
  }

  // stdout and stderr have ended, or the command has exited: it is done.
  void Exited() {
    if (child_ && !child_->reaped()) link_.Send(3, StatusDocument(child_->Wait()));
    if (command_.valid() && !reported_) {
      reported_ = true;
      link_.Send(3, StatusDocument(AwaitCommand()));
    }
    link_.CloseWhenDrained();
    beast::error_code ignored;
    if (in_.is_open()) in_.close(ignored);
  }

  // The client closed or went away: stop the command, then the pipes.
  void ClientGone() {
    KillCommand();
    beast::error_code ignored;
    out_.close(ignored);
    err_.close(ignored);
    if (in_.is_open()) in_.close(ignored);
    link_.Abort();
  }

  asio::io_context& io_;
  ExecTarget target_;
  asio::posix::stream_descriptor in_, out_, err_;
  std::array<char, 32 * 1024> out_buffer_{}, err_buffer_{};
  std::function<void(const std::string&)> resize_;
  std::optional<Child> child_;
  asio::posix::stream_descriptor exit_watch_;  // runc exec's pidfd: readable once it has exited
  asio::steady_timer linger_;
  AdoptedProcess command_;  // with a terminal: the command, detached from the runtime
  bool reported_ = false;   // its exit status has been sent
  int ended_ = 0;
  Link<asio::posix::stream_descriptor> link_;  // last: it is made with in_
};

// What the client types, to conmon's attach socket: one packet per write,
// none larger than conmon reads at once, so nothing is cut off.
class PacketSink {
 public:
  static constexpr size_t kMaxPacket = 8192;
  explicit PacketSink(asio::io_context& io) : socket_(io) {}
  using executor_type = asio::posix::stream_descriptor::executor_type;
  executor_type get_executor() { return socket_.get_executor(); }
  // Input goes through only when the client asked for stdin.
  bool is_open() const { return accepts_input_ && socket_.is_open(); }
  // The client's stdin has ended: conmon sees the end of input (and closes
  // the container's stdin if it is stdin_once); output still comes.
  void close(boost::system::error_code& ec) {
    accepts_input_ = false;
    socket_.native_non_blocking(false, ec);
    if (::shutdown(socket_.native_handle(), SHUT_WR) != 0) ec.assign(errno, boost::system::system_category());
  }
  void set_accepts_input(bool accepts) { accepts_input_ = accepts; }
  template <typename Buffers, typename Handler>
  auto async_write_some(const Buffers& buffers, Handler&& handler) {
    asio::const_buffer first = *asio::buffer_sequence_begin(buffers);
    return socket_.async_write_some(asio::buffer(first.data(), std::min(first.size(), kMaxPacket)),
                                    std::forward<Handler>(handler));
  }
  asio::posix::stream_descriptor& socket() { return socket_; }

 private:
  asio::posix::stream_descriptor socket_;
  bool accepts_input_ = false;
};

// Attach: conmon's attach socket on one side, the channels on the other.
// The container runs on when the client goes.
template <template <typename> class Link>
class AttachSession {
 public:
  using Connection = typename Link<PacketSink>::Connection;
  AttachSession(asio::io_context& io, Connection& connection, const AttachTarget& target)
      : io_(io), target_(target), conmon_(io),
        link_(connection, conmon_, [this] { ClientGone(); }, [this](const std::string& size) { Resize(size); }) {}

  void Run() {
    // By the directory's descriptor: its path may be longer than sun_path.
    int dir = open(target_.dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    std::string path = crisp::StrCat("/proc/self/fd/", dir, "/attach");
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.c_str(), std::min(path.size() + 1, sizeof address.sun_path - 1));
    int fd = dir < 0 ? -1 : socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      std::string error = crisp::StrCat("cannot reach the container's attach socket: ", std::strerror(errno));
      if (fd >= 0) close(fd);
      if (dir >= 0) close(dir);
      link_.Send(3, nlohmann::json{{"metadata", nlohmann::json::object()},
                                       {"status", "Failure"},
                                       {"reason", "InternalError"},
                                       {"message", error}}
                            .dump());
      link_.CloseWhenDrained();
      io_.run();
      return;
    }
    close(dir);
    conmon_.socket().assign(fd);
    link_.Send(target_.stdout ? 1 : target_.stderr ? 2 : 3, "");
    Read();
    conmon_.set_accepts_input(target_.stdin);
    link_.Start();  // with or without stdin: the client's close and resizes come this way
    io_.run();
  }

 private:
  void Read() {
    conmon_.socket().async_read_some(asio::buffer(buffer_), [this](beast::error_code ec, size_t n) {
      if (ec || n == 0) return link_.CloseWhenDrained();  // the container's stdio has ended
      // conmon numbers its pipes 1 stdin, 2 stdout, 3 stderr.
      const int pipe = buffer_[0];
      std::string_view data(buffer_.data() + 1, n - 1);
      if (pipe == 2 && target_.stdout) link_.Send(1, data);
      if (pipe == 3 && target_.stderr) link_.Send(2, data);
      link_.WhenWritable([this] { Read(); });
    });
  }

  void Resize(const std::string& text) {
    std::optional<winsize> size = TerminalSize(text);
    if (!size || !target_.tty) return;
    int ctl = open((target_.dir + "/ctl").c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (ctl < 0) return;
    std::string line = crisp::StrCat("1 ", size->ws_row, " ", size->ws_col, "\n");
    [[maybe_unused]] ssize_t ignored = write(ctl, line.data(), line.size());
    close(ctl);
  }

  void ClientGone() {
    beast::error_code ignored;
    conmon_.socket().close(ignored);
  }

  asio::io_context& io_;
  AttachTarget target_;
  PacketSink conmon_;
  Link<PacketSink> link_;
  std::array<char, 64 * 1024> buffer_{};
};

// A TCP connection to 127.0.0.1:port made from inside `netns`; the calling
// thread's namespace is restored, so it runs on a thread of its own.
int ConnectInNamespace(const NetworkNamespace& netns, int port, std::string* error) {
  int fd = -1;
  std::thread([&] {
    if (setns(netns.fd(), CLONE_NEWNET) != 0) {
      *error = crisp::StrCat("cannot enter the pod's network namespace: ", std::strerror(errno));
      return;
    }
    // This thread stays in the pod's namespace and ends here; the socket
    // keeps the namespace it was made in.
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      *error = crisp::StrCat("cannot connect to port ", port, " in the pod: ", std::strerror(errno));
      if (fd >= 0) close(fd);
      fd = -1;
    }
  }).join();
  return fd;
}

// Port forwarding over WebSocket, as the kubelet serves it: for the i-th
// port of the PortForward request, channel 2i carries data and 2i+1
// errors, each opened with the port as a little-endian uint16. What the
// client writes on 2i goes to a connection to that port in the pod; the
// session ends when every port's connection has.
class ForwardSession {
 public:
  ForwardSession(asio::io_context& io, websocket::stream<tcp::socket>& ws, const ForwardTarget& target)
      : io_(io), ws_(ws), target_(target), channels_(ws) {}

  void Run() {
    ports_.resize(target_.ports.size());
    for (size_t i = 0; i < ports_.size(); ++i) {
      const int port = target_.ports[i];
      const std::string prefix{static_cast<char>(port & 0xff), static_cast<char>((port >> 8) & 0xff)};
      channels_.Send(static_cast<int>(2 * i), prefix);
      channels_.Send(static_cast<int>(2 * i + 1), prefix);
    }
    for (size_t i = 0; i < ports_.size(); ++i) {
      std::string error;
      int fd = ConnectInNamespace(*target_.netns, target_.ports[i], &error);
      if (fd < 0) {
        channels_.Send(static_cast<int>(2 * i + 1), error);
        ports_[i].done = true;
        continue;
      }
      ports_[i].pod = std::make_unique<tcp::socket>(io_);
      ports_[i].pod->assign(tcp::v4(), fd);
      ReadPod(i);
    }
    EndIfAllDone();
    ReadClient();
    io_.run();
  }

 private:
  struct Port {
    std::unique_ptr<tcp::socket> pod;
    std::deque<std::string> to_pod;
    std::array<char, 32 * 1024> buffer{};
    bool done = false;  // the pod's side ended (or never began)
  };

  void EndIfAllDone() {
    for (const Port& port : ports_) {
      if (!port.done) return;
    }
    channels_.CloseWhenDrained();
  }

  void ReadPod(size_t i) {
    ports_[i].pod->async_read_some(asio::buffer(ports_[i].buffer), [this, i](beast::error_code ec, size_t n) {
      if (ec) {
        ports_[i].done = true;
        return EndIfAllDone();
      }
      channels_.Send(static_cast<int>(2 * i), std::string_view(ports_[i].buffer.data(), n));
      channels_.WhenWritable([this, i] { ReadPod(i); });
    });
  }

  // The client's messages: data for a port goes to its pod connection;
  // reading pauses while one of them has kMaxQueued waiting.
  void ReadClient() {
    ws_.async_read(incoming_, [this](beast::error_code ec, size_t) {
      if (ec) return ClientGone();
      std::string message = beast::buffers_to_string(incoming_.data());
      incoming_.consume(incoming_.size());
      const size_t channel = message.empty() ? 1 : static_cast<unsigned char>(message[0]);
      if (message.size() > 1 && channel % 2 == 0 && channel / 2 < ports_.size()) {
        Port& port = ports_[channel / 2];
        if (port.pod && port.pod->is_open()) {
          port.to_pod.push_back(message.substr(1));
          if (port.to_pod.size() == 1) WritePod(channel / 2);
          if (port.to_pod.size() >= kMaxQueued) {
            paused_ = true;
            return;
          }
        }
      }
      ReadClient();
    });
  }

  void WritePod(size_t i) {
    asio::async_write(*ports_[i].pod, asio::buffer(ports_[i].to_pod.front()), [this, i](beast::error_code ec, size_t) {
      Port& port = ports_[i];
      port.to_pod.pop_front();
      if (ec) port.to_pod.clear();
      if (!port.to_pod.empty()) WritePod(i);
      if (paused_ && port.to_pod.size() < kMaxQueued) {
        paused_ = false;
        ReadClient();
      }
    });
  }

  void ClientGone() {
    beast::error_code ignored;
    for (Port& port : ports_) {
      if (port.pod) port.pod->close(ignored);
    }
  }

  asio::io_context& io_;
  websocket::stream<tcp::socket>& ws_;
  ForwardTarget target_;
  Channels channels_;
  std::vector<Port> ports_;
  beast::flat_buffer incoming_;
  bool paused_ = false;
};

// 128 bits from the kernel's generator: a URL must not be guessable from
// the IDs crispd shows.
std::string Token() {
  unsigned char bytes[16];
  size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
  }
  static const char kHex[] = "0123456789abcdef";
  std::string token;
  for (unsigned char byte : bytes) {
    token += kHex[byte >> 4];
    token += kHex[byte & 15];
  }
  return token;
}

void Answer(tcp::socket& socket, http::status status, const std::string& body) {
  std::cerr << "crispd: streaming: " << static_cast<int>(status) << " " << body << std::endl;
  http::response<http::string_body> answer(status, 11);
  answer.set(http::field::content_type, "text/plain");
  answer.body() = body + "\n";
  answer.prepare_payload();
  beast::error_code ignored;
  http::write(socket, answer, ignored);
}

// The client's first choice of the subprotocols crispd serves over
// WebSocket ("" if none): v5.channel.k8s.io (v4 plus a close signal for
// stdin) for exec and attach, v4.channel.k8s.io for all three.
std::string ChooseSubprotocol(const http::request<http::empty_body>& request, bool forward) {
  std::string offered(request[http::field::sec_websocket_protocol]);
  for (absl::string_view item : absl::StrSplit(offered, ',')) {
    item = absl::StripAsciiWhitespace(item);
    if (item == kSubprotocol || (!forward && item == kSubprotocolV5)) return std::string(item);
  }
  return "";
}

// Port forwarding over SPDY (portforward.k8s.io), as the kubelet serves it
// to crictl and kubectl: per local connection the client opens an error
// stream and a data stream, paired by their requestid header, both naming
// the pod's port in theirs. Once a pair is there, crispd connects to that
// port inside the pod's network namespace and carries bytes both ways on
// the data stream; a failure is written on the error stream. Pairs come
// and go for as long as the client keeps the connection; at most
// kMaxPairs at once (more streams are refused), and a pair is forgotten
// once its pod connection has ended.
//
// Memory stays bounded both ways: the pods are read only while fewer than
// kMaxQueued frames wait for the client, and the client is read only while
// no pod has kMaxQueued chunks waiting for it.
class SpdyForwardSession {
 public:
  static constexpr size_t kMaxPairs = 128;

  SpdyForwardSession(asio::io_context& io, SpdyConnection& connection, const ForwardTarget& target)
      : io_(io), connection_(connection), target_(target) {}

  void Run() {
    // Frames that came right behind the upgrade request are decoded already.
    bool going = connection_.early_status().ok();
    while (going) {
      std::optional<spdy::Frame> frame = connection_.decoder().Next();
      if (!frame) break;
      going = Handle(*frame);
    }
    if (going) {
      Read();
    } else {
      End();
    }
    io_.run();
  }

 private:
  struct Pair {
    std::string request;
    uint32_t error_id = 0, data_id = 0;
    int port = 0;
    std::unique_ptr<tcp::socket> pod;
    std::deque<std::string> to_pod;
    bool client_done = false;  // the data stream's FIN: the pod's side is half-closed after what waits
    std::array<char, 32 * 1024> buffer{};
  };
  using PairPtr = std::shared_ptr<Pair>;

  void Queue(std::string frame) {
    out_.push_back(std::move(frame));
    if (out_.size() == 1) WriteFront();
  }

  void WriteFront() {
    asio::async_write(connection_.socket(), asio::buffer(out_.front()), [this](beast::error_code ec, size_t) {
      out_.pop_front();
      if (ec) {
        out_.clear();
        return End();
      }
      if (!out_.empty()) return WriteFront();
      if (ended_) return End();
      if (out_.size() < kMaxQueued) ResumePods();
      if (reading_paused_ && out_.size() < kMaxQueued && !PodBacklog()) {
        reading_paused_ = false;
        Read();
      }
    });
  }

  // Pods whose output waited for the client's side to drain.
  void ResumePods() {
    std::vector<PairPtr> waiting;
    waiting.swap(pods_waiting_);
    for (PairPtr& pair : waiting) ReadPod(pair);
  }

  bool PodBacklog() const {
    for (const auto& [request, pair] : pairs_) {
      if (pair->to_pod.size() >= kMaxQueued) return true;
    }
    return false;
  }

  void Read() {
    connection_.socket().async_read_some(asio::buffer(buffer_), [this](beast::error_code ec, size_t n) {
      if (ec || n == 0) return End();
      if (!connection_.decoder().Feed(std::string_view(buffer_.data(), n)).ok()) return End();
      while (std::optional<spdy::Frame> frame = connection_.decoder().Next()) {
        if (!Handle(*frame)) return End();
      }
      // Answers the client does not read, or a pod that does not read what
      // the client sends: wait before reading more.
      if (out_.size() >= kMaxQueued || PodBacklog()) {
        reading_paused_ = true;
        return;
      }
      Read();
    });
  }

  PairPtr PairOf(uint32_t stream_id) {
    auto found = pair_of_.find(stream_id);
    if (found == pair_of_.end()) return nullptr;
    auto pair = pairs_.find(found->second);
    return pair == pairs_.end() ? nullptr : pair->second;
  }

  bool Handle(const spdy::Frame& frame) {
    if (!frame.control) {
      PairPtr pair = PairOf(frame.stream_id);
      if (!pair || frame.stream_id != pair->data_id) return true;  // the error stream carries nothing from the client
      if (!frame.data.empty()) {
        pair->to_pod.push_back(frame.data);
        if (pair->pod && pair->to_pod.size() == 1) WritePod(pair);
      }
      if (frame.fin()) {
        pair->client_done = true;
        if (pair->pod && pair->to_pod.empty()) HalfClosePod(*pair);
      }
      return true;
    }
    switch (frame.type) {
      case spdy::ControlType::kSynStream:
        return Open(frame);
      case spdy::ControlType::kPing:
        if (frame.ping_id % 2 == 1) Queue(spdy::EncodePing(frame.ping_id));
        return true;
      case spdy::ControlType::kRstStream:
        if (PairPtr pair = PairOf(frame.stream_id); pair && pair->pod) {
          beast::error_code ignored;
          pair->pod->close(ignored);
        }
        return true;
      case spdy::ControlType::kGoAway:
        return false;  // End(): the answers queued still go out
      default:
        return true;
    }
  }

  // A stream of a pair: answered, checked (the kubelet resets a bad one
  // with CANCEL), and once its pair is whole, connected.
  bool Open(const spdy::Frame& frame) {
    connection_.set_last_client_id(frame.stream_id);
    absl::StatusOr<spdy::Headers> headers = connection_.HeadersOf(frame);
    if (!headers.ok()) return false;
    const std::string type(spdy::HeaderValue(*headers, "streamtype"));
    int port = 0;
    if ((type != "error" && type != "data") || !absl::SimpleAtoi(std::string(spdy::HeaderValue(*headers, "port")), &port) ||
        port <= 0 || port > 65535) {
      Queue(spdy::EncodeRstStream(frame.stream_id, spdy::RstStatus::kCancel));
      return true;
    }
    // No requestid: the kubelet's pairing by stream id (error n, data n+2).
    std::string request(spdy::HeaderValue(*headers, "requestid"));
    if (request.empty()) request = crisp::StrCat("id-", type == "error" ? frame.stream_id : frame.stream_id - 2);
    auto found = pairs_.find(request);
    if (found == pairs_.end() && pairs_.size() >= kMaxPairs) {
      Queue(spdy::EncodeRstStream(frame.stream_id, spdy::RstStatus::kRefusedStream));
      return true;
    }
    absl::StatusOr<std::string> reply = connection_.Reply(frame.stream_id);
    if (!reply.ok()) return false;
    Queue(*reply);
    if (found == pairs_.end()) {
      found = pairs_.emplace(request, std::make_shared<Pair>()).first;
      found->second->request = request;
    }
    Pair& pair = *found->second;
    uint32_t& slot = type == "error" ? pair.error_id : pair.data_id;
    if (slot != 0) {
      Queue(spdy::EncodeRstStream(frame.stream_id, spdy::RstStatus::kCancel));  // a second stream of one kind
      return true;
    }
    slot = frame.stream_id;
    pair.port = port;
    pair_of_[frame.stream_id] = request;
    if (pair.error_id != 0 && pair.data_id != 0) Connect(found->second);
    return true;
  }

  void Connect(const PairPtr& pair) {
    std::string error;
    int fd = ConnectInNamespace(*target_.netns, pair->port, &error);
    if (fd < 0) {
      Queue(spdy::EncodeData(pair->error_id, error, true));
      Queue(spdy::EncodeData(pair->data_id, "", true));
      return Forget(*pair);
    }
    pair->pod = std::make_unique<tcp::socket>(io_);
    pair->pod->assign(tcp::v4(), fd);
    if (!pair->to_pod.empty()) WritePod(pair);
    else if (pair->client_done) HalfClosePod(*pair);
    ReadPod(pair);
  }

  // The pair's streams are done: its IDs and request may be used again.
  void Forget(const Pair& pair) {
    pair_of_.erase(pair.error_id);
    pair_of_.erase(pair.data_id);
    pairs_.erase(pair.request);
  }

  void WritePod(PairPtr pair) {
    asio::async_write(*pair->pod, asio::buffer(pair->to_pod.front()), [this, pair](beast::error_code ec, size_t) {
      pair->to_pod.pop_front();
      if (ec) pair->to_pod.clear();
      if (!pair->to_pod.empty()) return WritePod(pair);
      if (pair->client_done) HalfClosePod(*pair);
      if (reading_paused_ && out_.size() < kMaxQueued && !PodBacklog()) {
        reading_paused_ = false;
        Read();
      }
    });
  }

  static void HalfClosePod(Pair& pair) {
    beast::error_code ignored;
    pair.pod->shutdown(tcp::socket::shutdown_send, ignored);
  }

  void ReadPod(PairPtr pair) {
    if (out_.size() >= kMaxQueued) {  // the client has not taken what waits
      pods_waiting_.push_back(std::move(pair));
      return;
    }
    pair->pod->async_read_some(asio::buffer(pair->buffer), [this, pair](beast::error_code ec, size_t n) {
      if (ec || n == 0) {
        // The pod's side is done: both streams end, the pair with them.
        Queue(spdy::EncodeData(pair->data_id, "", true));
        Queue(spdy::EncodeData(pair->error_id, "", true));
        beast::error_code ignored;
        pair->pod->close(ignored);
        return Forget(*pair);
      }
      Queue(spdy::EncodeData(pair->data_id, std::string_view(pair->buffer.data(), n), false));
      ReadPod(pair);
    });
  }

  // The session is over: the pods' connections close, and the client's
  // once what is queued for it is written (at once after an error).
  void End() {
    beast::error_code ignored;
    ended_ = true;
    for (auto& [request, pair] : pairs_) {
      if (pair->pod) pair->pod->close(ignored);
    }
    pods_waiting_.clear();
    if (!out_.empty()) return;  // WriteFront ends it
    connection_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    connection_.socket().close(ignored);
  }

  asio::io_context& io_;
  SpdyConnection& connection_;
  ForwardTarget target_;
  std::map<std::string, PairPtr> pairs_;       // by requestid
  std::map<uint32_t, std::string> pair_of_;    // stream id -> requestid
  std::vector<PairPtr> pods_waiting_;          // pods not read until the client's side drains
  std::deque<std::string> out_;
  std::array<char, 32 * 1024> buffer_{};
  bool reading_paused_ = false;
  bool ended_ = false;
};

// SPDY/3.1, as the kubelet's server answers it: X-Stream-Protocol-Version
// negotiated (the client's first choice the server has; none: 403 naming
// ours), 101, then the client's streams, then the session.
void ServeSpdy(asio::io_context& io, tcp::socket& socket, const http::request<http::empty_body>& request,
               beast::flat_buffer& early, const std::variant<ExecTarget, AttachTarget, ForwardTarget>& target,
               IdleWatcher& idle) {
  const bool forward = std::holds_alternative<ForwardTarget>(target);
  std::vector<std::string> offered;
  for (auto field = request.equal_range("X-Stream-Protocol-Version"); field.first != field.second; ++field.first) {
    for (absl::string_view item : absl::StrSplit(std::string(field.first->value()), ',')) {
      if (!absl::StripAsciiWhitespace(item).empty()) offered.emplace_back(absl::StripAsciiWhitespace(item));
    }
  }
  if (offered.empty()) return Answer(socket, http::status::bad_request, "X-Stream-Protocol-Version is missing");
  // Over SPDY, v5 is v4 (its addition, closing stdin, is SPDY's FIN anyway).
  std::string chosen;
  for (const std::string& version : offered) {
    if (forward ? version == "portforward.k8s.io" : (version == kSubprotocol || version == "v5.channel.k8s.io")) {
      chosen = version;
      break;
    }
  }
  if (chosen.empty()) {
    std::cerr << "crispd: streaming: 403 no common stream protocol" << std::endl;
    http::response<http::string_body> answer(http::status::forbidden, 11);
    if (forward) {
      answer.insert("X-Accepted-Stream-Protocol-Versions", "portforward.k8s.io");
    } else {
      answer.insert("X-Accepted-Stream-Protocol-Versions", kSubprotocol);
      answer.insert("X-Accepted-Stream-Protocol-Versions", "v5.channel.k8s.io");
    }
    answer.body() = crisp::StrCat("none of the stream protocols offered is served; crispd serves ",
                                  forward ? "portforward.k8s.io" : kSubprotocol, "\n");
    answer.prepare_payload();
    beast::error_code ignored;
    http::write(socket, answer, ignored);
    return;
  }
  std::string upgrade = crisp::StrCat(
      "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ",
      chosen, "\r\n\r\n");
  beast::error_code ec;
  asio::write(socket, asio::buffer(upgrade), ec);
  if (ec) return;
  // Frames the client sent right behind its request are in `early` already.
  SpdyConnection connection(socket, std::string_view(static_cast<const char*>(early.data().data()), early.size()));
  IdleWatcher::Watch watch(idle, io, socket.native_handle());
  auto run = [&](const auto& streams_of, auto&& session) {
    std::set<int> channels = {3};  // error
    if (streams_of.stdin) channels.insert(0);
    if (streams_of.stdout) channels.insert(1);
    if (streams_of.stderr && !streams_of.tty) channels.insert(2);
    if (streams_of.tty) channels.insert(4);
    if (absl::Status established = connection.Establish(channels, std::chrono::seconds(30)); !established.ok()) {
      std::cerr << "crispd: streaming: SPDY: " << established.message() << std::endl;
      return;
    }
    session(connection);
  };
  if (const auto* exec = std::get_if<ExecTarget>(&target)) {
    run(*exec, [&](SpdyConnection& c) { ExecSession<SpdyLink>(io, c, *exec).Run(); });
  } else if (const auto* attach = std::get_if<AttachTarget>(&target)) {
    run(*attach, [&](SpdyConnection& c) { AttachSession<SpdyLink>(io, c, *attach).Run(); });
  } else {
    SpdyForwardSession(io, connection, std::get<ForwardTarget>(target)).Run();
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<StreamingServer>> StreamingServer::Start(const StreamingOptions& options) {
  const std::string& address = options.address;
  if (options.url_lifetime.count() < 1 || options.max_sessions < 1 || options.idle_timeout.count() < 1) {
    return absl::InvalidArgumentError(
        "a streaming URL lives at least a second, at least one session is served, and a session may idle a second");
  }
  std::unique_ptr<StreamingServer> server(new StreamingServer());
  server->url_lifetime_ = options.url_lifetime;
  server->idle_ = std::make_shared<IdleWatcher>(options.idle_timeout);
  server->sessions_->max_sessions = options.max_sessions;
  sockaddr_in bind_to{};
  bind_to.sin_family = AF_INET;
  if (inet_pton(AF_INET, address.c_str(), &bind_to.sin_addr) != 1) {
    return absl::InvalidArgumentError(crisp::StrCat("streaming address \"", address, "\" is not an IPv4 address"));
  }
  server->listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  socklen_t length = sizeof bind_to;
  if (server->listen_fd_ < 0 || bind(server->listen_fd_, reinterpret_cast<sockaddr*>(&bind_to), sizeof bind_to) != 0 ||
      listen(server->listen_fd_, 64) != 0 ||
      getsockname(server->listen_fd_, reinterpret_cast<sockaddr*>(&bind_to), &length) != 0) {
    return absl::InternalError(crisp::StrCat("streaming server on ", address, ": ", std::strerror(errno)));
  }
  server->base_ = crisp::StrCat("http://", address, ":", ntohs(bind_to.sin_port));
  // A socket path must fit sockaddr_un (108 bytes): "/<n>.sock" follows.
  constexpr size_t kRoomForSocketName = 24;
  if (!options.console_dir.empty() && options.console_dir.size() + kRoomForSocketName < sizeof(sockaddr_un::sun_path)) {
    std::error_code error;
    std::filesystem::remove_all(options.console_dir, error);  // sockets of an earlier crispd
    if (mkdir(options.console_dir.c_str(), 0700) != 0) {
      return absl::InternalError(
          crisp::StrCat("a directory for console sockets, ", options.console_dir, ": ", std::strerror(errno)));
    }
    server->console_dir_ = options.console_dir;
  } else {
    char console_dir[] = "/tmp/crispd-console-XXXXXX";  // 0700, ours
    if (mkdtemp(console_dir) == nullptr) {
      return absl::InternalError(crisp::StrCat("a directory for console sockets: ", std::strerror(errno)));
    }
    server->console_dir_ = console_dir;
  }
  server->acceptor_ = std::thread([raw = server.get()] { raw->AcceptLoop(); });
  return server;
}

StreamingServer::~StreamingServer() {
  stopping_ = true;
  if (listen_fd_ >= 0) shutdown(listen_fd_, SHUT_RDWR);
  if (acceptor_.joinable()) acceptor_.join();
  if (listen_fd_ >= 0) close(listen_fd_);
  // Sessions end too: their io_contexts stop, exec commands are killed.
  std::unique_lock lock(sessions_->mutex);
  sessions_->stopping = true;
  for (asio::io_context* io : sessions_->running) io->stop();
  sessions_->ended.wait_for(lock, std::chrono::seconds(5), [&] { return sessions_->count == 0; });
  std::error_code ignored;
  if (!console_dir_.empty()) std::filesystem::remove_all(console_dir_, ignored);
}

absl::StatusOr<std::shared_ptr<const NetworkNamespace>> NetworkNamespace::Open(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::FailedPreconditionError(crisp::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  return std::shared_ptr<const NetworkNamespace>(new NetworkNamespace(fd));
}

NetworkNamespace::~NetworkNamespace() { close(fd_); }

std::string StreamingServer::ExecUrl(ExecTarget target) { return NewUrl("exec", std::move(target)); }

std::string StreamingServer::AttachUrl(AttachTarget target) { return NewUrl("attach", std::move(target)); }

std::string StreamingServer::PortForwardUrl(ForwardTarget target) { return NewUrl("portforward", std::move(target)); }

std::string StreamingServer::ConsoleSocket() { return crisp::StrCat(console_dir_, "/", ++consoles_, ".sock"); }

std::string StreamingServer::NewUrl(const char* kind, Target target) {
  std::string path = crisp::StrCat("/", kind, "/", Token());
  std::lock_guard lock(tokens_->mutex);
  auto now = std::chrono::steady_clock::now();
  std::erase_if(tokens_->pending, [&](const auto& entry) { return entry.second.expires < now; });
  tokens_->pending[path] = Pending{std::move(target), now + url_lifetime_};
  return base_ + path;
}

std::optional<StreamingServer::Target> StreamingServer::Tokens::Take(const std::string& path) {
  std::lock_guard lock(mutex);
  auto found = pending.find(path);
  if (found == pending.end()) return std::nullopt;
  Pending taken = std::move(found->second);
  pending.erase(found);
  if (taken.expires < std::chrono::steady_clock::now()) return std::nullopt;
  return std::move(taken.target);
}

void StreamingServer::AcceptLoop() {
  while (!stopping_) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (stopping_) return;
      if (errno != EINTR && errno != ECONNABORTED) {
        // Out of fds or memory: wait for sessions to end rather than stop serving.
        std::cerr << "crispd: streaming: accept: " << std::strerror(errno) << std::endl;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      continue;
    }
    if (!sessions_->Enter()) {
      std::cerr << "crispd: streaming: too many sessions, connection refused" << std::endl;
      close(fd);
      continue;
    }
    try {
      std::thread([tokens = tokens_, sessions = sessions_, idle = idle_, fd] {
        ServeConnection(fd, *tokens, *sessions, *idle);
        sessions->Leave();
      }).detach();
    } catch (const std::system_error& error) {
      std::cerr << "crispd: streaming: no thread for a session: " << error.what() << std::endl;
      close(fd);
      sessions_->Leave();
    }
  }
}

void StreamingServer::ServeConnection(int fd, Tokens& tokens, Sessions& sessions, IdleWatcher& idle) {
  asio::io_context io;
  Sessions::Registration registration(sessions, io);
  tcp::socket socket(io);
  beast::error_code ec;
  socket.assign(tcp::v4(), fd, ec);
  if (ec) {
    close(fd);
    return;
  }
  // The whole upgrade request within its deadline, headers only.
  beast::flat_buffer buffer;
  http::request_parser<http::empty_body> parser;
  parser.header_limit(8 * 1024);
  // A client that says nothing is idle.
  asio::steady_timer deadline(
      io, std::min<std::chrono::milliseconds>(std::chrono::seconds(kRequestTimeoutSeconds), idle.timeout()));
  bool read = false;
  http::async_read(socket, buffer, parser, [&](beast::error_code read_ec, size_t) {
    read = !read_ec;
    deadline.cancel();
  });
  deadline.async_wait([&](beast::error_code wait_ec) {
    if (!wait_ec) socket.close(ec);
  });
  io.run();
  if (!read || sessions.Stopping()) return;
  io.restart();
  http::request<http::empty_body> request = parser.release();
  std::string path(request.target().substr(0, request.target().find('?')));
  std::optional<Target> target = tokens.Take(path);
  if (!target) return Answer(socket, http::status::not_found, "unknown or expired streaming URL " + path);
  if (absl::AsciiStrToLower(std::string(request[http::field::upgrade])).find("spdy/3.1") != std::string::npos) {
    return ServeSpdy(io, socket, request, buffer, *target, idle);
  }
  const bool forward = std::holds_alternative<ForwardTarget>(*target);
  const std::string subprotocol = ChooseSubprotocol(request, forward);
  if (!websocket::is_upgrade(request) || subprotocol.empty()) {
    return Answer(socket, http::status::bad_request,
                  crisp::StrCat("crispd streams over WebSocket with subprotocol ", kSubprotocol,
                                forward ? "" : crisp::StrCat(" or ", kSubprotocolV5),
                                ", or over SPDY/3.1 (Upgrade: SPDY/3.1)"));
  }
  if (forward && std::get<ForwardTarget>(*target).ports.empty()) {
    return Answer(socket, http::status::bad_request,
                  "a port forward over WebSocket forwards the ports of its PortForward request, which named none "
                  "(over SPDY/3.1 each stream names its port)");
  }
  websocket::stream<tcp::socket> ws(std::move(socket));
  // The opening and closing handshakes time out; idleness is the watch's.
  websocket::stream_base::timeout timeouts = websocket::stream_base::timeout::suggested(beast::role_type::server);
  timeouts.idle_timeout = websocket::stream_base::none();
  ws.set_option(timeouts);
  ws.set_option(websocket::stream_base::decorator([subprotocol](websocket::response_type& answer) {
    answer.set(http::field::sec_websocket_protocol, subprotocol);
  }));
  ws.read_message_max(kMaxMessage);
  ws.accept(request, ec);
  if (ec) return;
  ws.binary(true);
  IdleWatcher::Watch watch(idle, io, ws.next_layer().native_handle());
  if (auto* exec = std::get_if<ExecTarget>(&*target)) {
    ExecSession<WebSocketLink>(io, ws, *exec).Run();
  } else if (auto* attach = std::get_if<AttachTarget>(&*target)) {
    AttachSession<WebSocketLink>(io, ws, *attach).Run();
  } else {
    ForwardSession(io, ws, std::get<ForwardTarget>(*target)).Run();
  }
}

bool StreamingServer::Sessions::Enter() {
  std::lock_guard lock(mutex);
  if (stopping || count >= max_sessions) return false;
  ++count;
  return true;
}

void StreamingServer::Sessions::Leave() {
  std::lock_guard lock(mutex);
  --count;
  ended.notify_all();
}

StreamingServer::Sessions::Registration::Registration(Sessions& sessions, asio::io_context& io)
    : sessions_(sessions), io_(io) {
  std::lock_guard lock(sessions_.mutex);
  sessions_.running.insert(&io_);
  if (sessions_.stopping) io_.stop();
}

StreamingServer::Sessions::Registration::~Registration() {
  std::lock_guard lock(sessions_.mutex);
  sessions_.running.erase(&io_);
}

bool StreamingServer::Sessions::Stopping() {
  std::lock_guard lock(mutex);
  return stopping;
}

}  // namespace crisp::crispd
