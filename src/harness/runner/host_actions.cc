#include "harness/runner/host_actions.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "common/strings.h"
#include "common/subprocess.h"
#include "harness/client/proto_json.h"
#include "common/http_url.h"
#include "harness/streaming/channel_session.h"

namespace crisp::runner {
namespace {

std::string Errno(std::string_view what) { return crisp::StrCat(what, ": ", std::strerror(errno)); }

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A mount point at or under `path`, from /proc/self/mountinfo; "" if none.
std::string MountUnder(const std::string& path) {
  std::ifstream mountinfo("/proc/self/mountinfo");
  std::string line;
  while (std::getline(mountinfo, line)) {
    std::istringstream fields(line);
    std::string id, parent, device, root, point;
    fields >> id >> parent >> device >> root >> point;
    if (point == path || point.starts_with(path + "/")) return point;
  }
  return "";
}

// A value as text: a string as it is, anything else as JSON.
std::string Text(const nlohmann::json& value) { return value.is_string() ? value.get<std::string>() : value.dump(); }

std::string StringArg(const nlohmann::json& args, const char* key, std::string fallback = "") {
  return args.contains(key) ? Text(args[key]) : fallback;
}

// A list argument (argv) as words.
std::vector<std::string> Words(const nlohmann::json& list) {
  std::vector<std::string> words;
  for (const nlohmann::json& word : list) words.push_back(Text(word));
  return words;
}

// A duration argument in seconds (fractions allowed), as milliseconds;
// at most an hour.
int SecondsArg(const nlohmann::json& args, const char* key, double fallback) {
  double seconds = args.value(key, fallback);
  return static_cast<int>(std::clamp(seconds, 0.0, 3600.0) * 1000);
}

}  // namespace

HostSide::HostSide(std::string tag) : tag_(std::move(tag)) {}

HostSide::~HostSide() { Undo(); }

absl::StatusOr<std::string> HostSide::Area() {
  if (!area_.empty()) return area_;
  std::string pattern = crisp::StrCat("/tmp/crisp-host-", tag_, "-XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) return absl::InternalError(Errno("cannot make a temporary directory"));
  area_ = pattern;
  undo_.push_back({Undoable::Kind::kPath, area_, -1, {}});
  return area_;
}

absl::StatusOr<std::string> HostSide::NewAreaPath(std::string_view prefix) {
  absl::StatusOr<std::string> area = Area();
  if (!area.ok()) return area.status();
  return crisp::StrCat(*area, "/", prefix, "-", ++names_);
}

absl::StatusOr<std::string> HostSide::PathArg(const nlohmann::json& args, std::string_view prefix) {
  std::string path = StringArg(args, "path");
  if (!path.empty()) return path;
  return NewAreaPath(prefix);
}

absl::StatusOr<nlohmann::json> HostSide::Run(std::string_view action, const nlohmann::json& args) {
  try {
    return RunAction(action, args);
  } catch (const nlohmann::json::exception& error) {
    // A number given as text, a list where a string goes: the scenario's
    // arguments, wrong.
    return absl::InvalidArgumentError(crisp::StrCat(action, ": an argument has the wrong type: ", error.what()));
  }
}

std::string StreamingUrlForm(const std::string& url) {
  if (url.starts_with("//")) return "scheme-relative";
  if (url.starts_with("/")) return "path-only";
  return url.find("://") == std::string::npos ? "other" : "absolute";
}

// The IPv4 address of the interface that carries the default route (read
// from /proc/net/route): how the host is reached from elsewhere, unlike
// loopback, which host-port forwarding may leave out.
static absl::StatusOr<nlohmann::json> DefaultRouteAddress() {
  std::ifstream routes("/proc/net/route");
  std::string line;
  std::string interface;
  std::getline(routes, line);  // the header
  while (std::getline(routes, line)) {
    std::istringstream fields(line);
    std::string name, destination;
    if (fields >> name >> destination && destination == "00000000") {
      interface = name;
      break;
    }
  }
  if (interface.empty()) return absl::NotFoundError("the host has no IPv4 default route (/proc/net/route)");
  ifaddrs* addresses = nullptr;
  if (getifaddrs(&addresses) != 0) return absl::InternalError(Errno("getifaddrs"));
  std::string found;
  for (ifaddrs* entry = addresses; entry != nullptr; entry = entry->ifa_next) {
    if (entry->ifa_addr == nullptr || entry->ifa_addr->sa_family != AF_INET || interface != entry->ifa_name) continue;
    char text[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(entry->ifa_addr)->sin_addr, text, sizeof(text));
    found = text;
    break;
  }
  freeifaddrs(addresses);
  if (found.empty()) return absl::NotFoundError(crisp::StrCat("interface ", interface, " of the default route has no IPv4 address"));
  return nlohmann::json{{"ipv4", found}, {"interface", interface}};
}

absl::StatusOr<nlohmann::json> HostSide::RunAction(std::string_view action, const nlohmann::json& args) {
  if (action == "temp_dir") {
    absl::StatusOr<std::string> path = NewAreaPath("dir");
    if (!path.ok()) return path.status();
    if (mkdir(path->c_str(), 0755) != 0) return absl::InternalError(Errno("cannot make " + *path));
    chmod(path->c_str(), 0755);  // whatever the umask: containers' users read volumes made of it
    return nlohmann::json{{"path", *path}};
  }
  if (action == "write_file") {
    absl::StatusOr<std::string> given = PathArg(args, "file");
    if (!given.ok()) return given.status();
    const std::string& path = *given;
    mode_t mode = 0644;
    if (args.contains("mode")) {
      std::string text = StringArg(args, "mode");
      char* end = nullptr;
      unsigned long parsed = std::strtoul(text.c_str(), &end, 8);
      if (text.empty() || *end != '\0' || parsed > 07777) {
        return absl::InvalidArgumentError(crisp::StrCat("mode \"", text, "\" is not an octal file mode"));
      }
      mode = static_cast<mode_t>(parsed);
    }
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << StringArg(args, "content");
    if (!out.flush()) return absl::InternalError(crisp::StrCat("cannot write ", path));
    out.close();
    chmod(path.c_str(), mode);
    return nlohmann::json{{"path", path}};
  }
  if (action == "symlink") {
    absl::StatusOr<std::string> given = PathArg(args, "link");
    if (!given.ok()) return given.status();
    const std::string& path = *given;
    if (symlink(StringArg(args, "target").c_str(), path.c_str()) != 0) return absl::InternalError(Errno("symlink " + path));
    return nlohmann::json{{"path", path}};
  }
  if (action == "mount") {
    std::string target = StringArg(args, "target");
    std::string type = StringArg(args, "type", "bind");
    std::string propagation = StringArg(args, "propagation");
    unsigned long flag = ~0UL;
    if (propagation.empty()) flag = 0;
    if (propagation == "shared") flag = MS_SHARED;
    if (propagation == "slave") flag = MS_SLAVE;
    if (propagation == "private") flag = MS_PRIVATE;
    if (type != "bind" && type != "tmpfs") {
      return absl::InvalidArgumentError(crisp::StrCat("mount type \"", type, "\": bind or tmpfs"));
    }
    if (flag == ~0UL) return absl::InvalidArgumentError("propagation: private, shared or slave");
    // Directories the mount needs are made, and removed after it goes.
    std::filesystem::path first_missing;
    for (std::filesystem::path p = target; !p.empty() && p != p.root_path(); p = p.parent_path()) {
      std::error_code ignored;
      if (std::filesystem::exists(p, ignored)) break;
      first_missing = p;
    }
    std::error_code error;
    std::filesystem::create_directories(target, error);
    if (!first_missing.empty()) undo_.push_back({Undoable::Kind::kPath, first_missing.string(), -1, {}});
    if (type == "bind") {
      std::string source = StringArg(args, "source", target);
      if (mount(source.c_str(), target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
        return absl::InternalError(Errno(crisp::StrCat("bind mount ", source, " on ", target)));
      }
    } else {
      std::string options = StringArg(args, "options", "size=16m");
      if (mount("tmpfs", target.c_str(), "tmpfs", 0, options.c_str()) != 0) {
        return absl::InternalError(Errno("tmpfs mount on " + target));
      }
    }
    undo_.push_back({Undoable::Kind::kMount, target, -1, {}});
    if (flag != 0 && mount(nullptr, target.c_str(), nullptr, flag | MS_REC, nullptr) != 0) {
      return absl::InternalError(Errno(crisp::StrCat("make ", target, " ", propagation)));
    }
    return nlohmann::json{{"target", target}};
  }
  if (action == "host_address") return DefaultRouteAddress();
  if (action == "tcp_listen") {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return absl::InternalError(Errno("socket"));
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_ANY);
    address.sin_port = htons(static_cast<uint16_t>(args.value("port", 0)));
    socklen_t length = sizeof(address);
    if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      std::string message = Errno("listen");
      close(fd);
      return absl::InternalError(message);
    }
    undo_.push_back({Undoable::Kind::kListener, "", fd, {}});
    return nlohmann::json{{"port", ntohs(address.sin_port)}};
  }
  if (action == "stream" || action == "port_forward") {
    bool exec = action == "stream";
    streaming::ChannelSessionRequest request;
    request.url = StringArg(args, "url");
    request.timeout_ms = SecondsArg(args, "timeout", 10);
    request.max_capture = kMaxCapture;
    const char* input = exec ? "stdin" : "send";
    if (args.contains(input)) request.input = StringArg(args, input);
    if (exec) request.quiet_ms = SecondsArg(args, "quiet", 0);
    const bool has_request = args.contains("request") && args["request"].is_object();
    const nlohmann::json cri = has_request ? args["request"] : nlohmann::json::object();
    if (!exec) {
      // The pod's ports: `ports`, else the PortForward request's. Over
      // WebSocket the server forwards the request's ports, one channel
      // pair each; over SPDY each pair of streams names its own.
      nlohmann::json ports = args.contains("ports") ? args["ports"] : cri.value("port", nlohmann::json::array());
      if (!ports.is_array()) return absl::InvalidArgumentError("ports: a list of TCP ports");
      for (const nlohmann::json& port : ports) {
        int number = 0;
        if (port.is_number_integer()) number = port.get<int>();
        else if (!port.is_string() || !absl::SimpleAtoi(port.get<std::string>(), &number)) number = 0;
        if (number < 1 || number > 65535) return absl::InvalidArgumentError(crisp::StrCat("ports: ", port.dump(), " is not a TCP port"));
        request.forward_ports.push_back(number);
      }
    }
    if (exec && args.contains("protocols")) {
      request.subprotocols = Words(args["protocols"]);
      if (request.subprotocols.empty()) return absl::InvalidArgumentError("protocols: a non-empty list of subprotocols");
    }
    if (exec && args.contains("close_stdin")) {
      if (!args["close_stdin"].is_boolean()) return absl::InvalidArgumentError("close_stdin: true or false");
      request.close_stdin = args["close_stdin"].get<bool>();
      if (request.close_stdin && !request.input) request.input = "";
    }
    const std::string transport = StringArg(args, "transport", "websocket");
    if (transport == "spdy") {
      // The streams a SPDY client opens must be those the Exec or Attach
      // request asked for: the server waits for exactly that set.
      if (!has_request) {
        return absl::InvalidArgumentError(
            "a SPDY stream needs its Exec, Attach or PortForward request, to open the streams it asked for "
            "(request: \"${exec.request}\")");
      }
      request.transport = streaming::Transport::kSpdy;
      request.streams = {cri.value("stdin", false), cri.value("stdout", false), cri.value("stderr", false),
                         cri.value("tty", false)};
      if (!exec && request.forward_ports.empty()) {
        return absl::InvalidArgumentError(
            "a SPDY port forward names the pod's ports in its streams: `ports`, or the PortForward request's port");
      }
    } else if (transport != "websocket") {
      return absl::InvalidArgumentError(crisp::StrCat("transport \"", transport, "\": websocket or spdy"));
    } else if (!exec && request.forward_ports.empty()) {
      request.forward_ports = {0};  // one pair of channels; the server names its port
    }
    if (exec && args.contains("resize")) {
      const nlohmann::json& size = args["resize"];
      request.resize = std::make_pair(size.value("width", 0), size.value("height", 0));
    }
    request.until = StringArg(args, "until");
    // stdout, or every port's data
    request.until_channels = {1};
    if (!exec) {
      request.until_channels.clear();
      for (size_t i = 0; i < request.forward_ports.size(); ++i) request.until_channels.push_back(static_cast<int>(2 * i));
    }
    // The CRI asks for a fully qualified URL; a runtime may leave out the
    // scheme ("//host:port/..."), which the kubelet's proxy dials as http.
    // The form is part of the observation, so the matrix shows it.
    std::string form = StreamingUrlForm(request.url);
    if (form == "scheme-relative") request.url = "http:" + request.url;
    streaming::ChannelSessionResult session = streaming::RunChannelSession(request);
    nlohmann::json result = exec ? streaming::RemoteCommandResult(session, request.until)
                                 : streaming::PortForwardResult(session, request.forward_ports.size());
    result["url_form"] = form;
    return result;
  }
  if (action == "http_get") {
    return HttpGet(StringArg(args, "url"), SecondsArg(args, "timeout", 5));
  }
  if (action == "stat") {
    std::string path = StringArg(args, "path");
    struct stat info {};
    if (lstat(path.c_str(), &info) != 0) return nlohmann::json{{"exists", false}, {"path", path}};
    std::string type = S_ISREG(info.st_mode) ? "file" : S_ISDIR(info.st_mode) ? "dir" : S_ISLNK(info.st_mode) ? "symlink" : "other";
    nlohmann::json result = {{"exists", true}, {"path", path}, {"type", type}, {"size", info.st_size}};
    if (type == "file" && info.st_size <= 65536) {
      std::ifstream in(path, std::ios::binary);
      std::ostringstream text;
      text << in.rdbuf();
      result["content"] = client::BytesToJson(text.str());
    }
    return result;
  }
  if (action == "run") {
    if (!args.contains("argv") || !args["argv"].is_array() || args["argv"].empty()) {
      return absl::InvalidArgumentError("run needs argv: a non-empty list");
    }
    std::vector<std::string> argv = Words(args["argv"]);
    absl::StatusOr<nlohmann::json> result = RunHostCommand(argv, SecondsArg(args, "timeout", 30));
    // undo: a command that reverses this one, run when the scenario ends
    // (also when it failed before its own last step).
    if (result.ok() && args.contains("undo") && args["undo"].is_array() && !args["undo"].empty()) {
      undo_.push_back(Undoable{Undoable::Kind::kCommand, "", -1, Words(args["undo"])});
    }
    return result;
  }
  return absl::InvalidArgumentError(crisp::StrCat("unknown host action ", action));
}

std::vector<std::string> HostSide::Undo() {
  std::vector<std::string> problems;
  for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) {
    switch (it->kind) {
      case Undoable::Kind::kListener:
        close(it->fd);
        break;
      case Undoable::Kind::kMount:
        if (umount2(it->path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
          problems.push_back(Errno("unmount " + it->path));
        }
        break;
      case Undoable::Kind::kCommand: {
        absl::StatusOr<nlohmann::json> ran = RunHostCommand(it->argv, 30000);
        if (!ran.ok() || (*ran)["exit_code"] != 0) {
          problems.push_back(crisp::StrCat("undo ", it->argv[0], ": ",
                                           ran.ok() ? (*ran)["stderr"].dump() : std::string(ran.status().message())));
        }
        break;
      }
      case Undoable::Kind::kPath: {
        // remove_all would follow into a mount still there (one that did not
        // go, or one a container propagated here) and delete its files.
        if (std::string mounted = MountUnder(it->path); !mounted.empty()) {
          problems.push_back(crisp::StrCat("not removing ", it->path, ": ", mounted, " is still mounted there"));
          break;
        }
        std::error_code error;
        std::filesystem::remove_all(it->path, error);
        if (error) problems.push_back(crisp::StrCat("remove ", it->path, ": ", error.message()));
        break;
      }
    }
  }
  undo_.clear();
  area_.clear();
  return problems;
}

nlohmann::json HttpGet(const std::string& url, int timeout_ms) {
  auto failed = [](std::string error) { return nlohmann::json{{"status", 0}, {"body", ""}, {"error", std::move(error)}}; };
  std::string url_error;
  std::optional<crisp::HttpUrl> parsed = crisp::ParseHttpUrl(url, {"http"}, &url_error);
  if (!parsed) return failed(url_error);
  const std::string& host = parsed->host;
  const std::string& port = parsed->port;
  const std::string& path = parsed->target;

  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0 || found == nullptr) return failed("cannot resolve " + host);
  int fd = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int64_t deadline = NowMs() + timeout_ms;
  int rc = fd < 0 ? -1 : connect(fd, found->ai_addr, found->ai_addrlen);
  freeaddrinfo(found);
  if (fd < 0) return failed(Errno("socket"));
  auto wait_for = [&](short events) {
    pollfd p{fd, events, 0};
    int left = static_cast<int>(std::max<int64_t>(0, deadline - NowMs()));
    return poll(&p, 1, left) == 1;
  };
  if (rc != 0 && errno != EINPROGRESS) {
    std::string error = Errno("connect");
    close(fd);
    return failed(error);
  }
  if (!wait_for(POLLOUT)) {
    close(fd);
    return failed("connect: timed out");
  }
  int socket_error = 0;
  socklen_t length = sizeof(socket_error);
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &socket_error, &length);
  if (socket_error != 0) {
    close(fd);
    return failed(crisp::StrCat("connect: ", std::strerror(socket_error)));
  }
  std::string request = crisp::StrCat("GET ", path, " HTTP/1.0\r\nHost: ", host, "\r\nConnection: close\r\n\r\n");
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return failed(Errno("send"));
  }
  std::string response;
  char buffer[8192];
  while (response.size() < kMaxCapture && wait_for(POLLIN)) {
    ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    response.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  static const std::regex status_line(R"(^HTTP/\d\.\d (\d{3}))");
  std::smatch status;
  if (!std::regex_search(response, status, status_line)) return failed(response.empty() ? "no answer" : "not an HTTP answer");
  size_t body = response.find("\r\n\r\n");
  return {{"status", std::stoi(status[1].str())},
          {"body", client::BytesToJson(body == std::string::npos ? "" : response.substr(body + 4))},
          {"error", ""}};
}

absl::StatusOr<nlohmann::json> RunHostCommand(const std::vector<std::string>& argv, int timeout_ms) {
  RunOptions options;
  options.spawn.argv = argv;
  options.spawn.search_path = true;
  // Its own process group, so that a timeout kills what it started too.
  options.spawn.own_process_group = true;
  options.timeout = absl::Milliseconds(timeout_ms);
  options.kill_grace = absl::ZeroDuration();
  options.max_output = kMaxCapture;
  absl::StatusOr<RunResult> result = RunProgram(options);
  if (!result.ok()) return absl::InvalidArgumentError(result.status().message());
  if (result->timed_out) result->stderr_text += crisp::StrCat("timed out after ", timeout_ms, " ms");
  return nlohmann::json{{"exit_code", result->timed_out ? -1 : result->status.ShellCode()},
                        {"stdout", client::BytesToJson(result->stdout_text)},
                        {"stderr", client::BytesToJson(result->stderr_text)}};
}

}  // namespace crisp::runner
